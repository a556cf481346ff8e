import NIOCore
import SigilEvents
import Synchronization

/// The PostgreSQL sessions the edge relays: which backend (process id and secret) is at which server workload, so a
/// `CancelRequest` reaches the database that issued the key and no other (a key the edge did not relay is not
/// forwarded: the listener is no oracle for guessing keys); and which credentials open sessions use, so they are
/// kept fresh while a session lasts even when no new connection asks for them (a `postgres-dynamic` lease is renewed
/// as long as it is in use, and ends when it is not), under which leases (released when asking again is refused).
final class PostgresSessions: Sendable {
    struct InUse: Sendable {
        var sessions: Int
        let workload: EdgeServerWorkload
        let request: RequestAttributes
        /// The `postgres-dynamic` leases the sessions logged in under, with how many sessions each.
        var leases: [String: Int] = [:]
        /// The workload side of each session, to end them when the access they use is withdrawn.
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    private let backends = Mutex<[[UInt8]: EdgeServerWorkload]>([:])
    private let credentials = Mutex<[CredentialKey: InUse]>([:])

    func opened(
        backend: [UInt8]?, at workload: EdgeServerWorkload, key: CredentialKey, request: RequestAttributes,
        lease: String?, channel: any Channel
    ) {
        if let backend { backends.withLock { $0[backend] = workload } }
        credentials.withLock {
            $0[key, default: InUse(sessions: 0, workload: workload, request: request)].sessions += 1
            if let lease { $0[key]?.leases[lease, default: 0] += 1 }
            $0[key]?.channels[ObjectIdentifier(channel)] = channel
        }
    }

    func closed(backend: [UInt8]?, key: CredentialKey, lease: String?, channel: any Channel) {
        if let backend { _ = backends.withLock { $0.removeValue(forKey: backend) } }
        credentials.withLock { inUse in
            inUse[key]?.channels[ObjectIdentifier(channel)] = nil
            inUse[key]?.sessions -= 1
            if let lease {
                inUse[key]?.leases[lease, default: 0] -= 1
                if inUse[key]?.leases[lease] ?? 0 <= 0 { inUse[key]?.leases[lease] = nil }
            }
            if inUse[key]?.sessions ?? 0 <= 0 { inUse[key] = nil }
        }
    }

    /// The server workload whose backend holds `key`, if a session the edge relays has it.
    func backend(_ key: [UInt8]) -> EdgeServerWorkload? { backends.withLock { $0[key] } }

    /// The credentials open sessions use.
    var inUse: [CredentialKey: InUse] { credentials.withLock { $0 } }

    /// Ends every session that uses `key` (the access it gives was withdrawn); returns how many. Closing the workload
    /// side closes the database side with it (`TunnelGlue`).
    @discardableResult
    func end(_ key: CredentialKey) -> Int {
        let channels = credentials.withLock { $0[key].map { Array($0.channels.values) } ?? [] }
        for channel in channels { channel.close(promise: nil) }
        return channels.count
    }

    var count: Int { credentials.withLock { $0.values.reduce(0) { $0 + $1.sessions } } }
}
