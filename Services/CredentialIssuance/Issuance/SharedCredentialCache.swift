import Foundation
import Synchronization

/// Credentials fetched from a third party (an authorization server, AWS STS), shared by every edge of a tenant: held
/// until their refresh time, fetched once however many grants ask at the same moment (the others wait for that one
/// fetch), and a failed fetch not kept.
final class SharedCredentialCache<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        let value: Value
        let freshUntil: Date
    }

    private let entries = Mutex<[String: Entry]>([:])
    private let inflight = Mutex<[String: Task<Value, any Error>]>([:])
    /// When a fetched value stops being served.
    private let freshUntil: @Sendable (Value) -> Date

    init(freshUntil: @escaping @Sendable (Value) -> Date) {
        self.freshUntil = freshUntil
    }

    /// The value under `key` while it is fresh; otherwise the one `fetch` brings (one fetch per key at a time).
    func value(
        _ key: String, now: Date = Date(), fetch: @escaping @Sendable () async throws -> Value
    ) async throws -> Value {
        if let held = entries.withLock({ $0[key] }), held.freshUntil > now { return held.value }
        let task = inflight.withLock { inflight in
            if let running = inflight[key] { return running }
            let task = Task { [self] in
                defer { _ = self.inflight.withLock { $0.removeValue(forKey: key) } }
                let value = try await fetch()
                self.entries.withLock { $0[key] = Entry(value: value, freshUntil: self.freshUntil(value)) }
                return value
            }
            inflight[key] = task
            return task
        }
        return try await task.value
    }

    /// How many values are held (for tests and status).
    var count: Int { entries.withLock { $0.count } }
}
