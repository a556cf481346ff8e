import Foundation
import Synchronization

/// A credential the edge holds, decrypted, in memory only.
struct HeldCredential: Sendable {
    /// The access request that obtained it (reported with every request it is used for).
    let requestID: String
    let inject: String
    let header: String?
    let value: String
    let obtainedAt: Date
    let expiresAt: Date

    /// Renewed once 80% of its lifetime has passed, so a credential is never used close to its expiry.
    func isFresh(at now: Date) -> Bool {
        now < obtainedAt.addingTimeInterval(expiresAt.timeIntervalSince(obtainedAt) * 0.8)
    }
}

/// Credentials by target and by the evidence that obtained them (a different token never reuses another's
/// credential).
final class CredentialCache: Sendable {
    private let entries = Mutex<[String: HeldCredential]>([:])

    static func key(target: String, evidenceDigest: String) -> String { "\(target)|\(evidenceDigest)" }

    func fresh(_ key: String, at now: Date = Date()) -> HeldCredential? {
        entries.withLock { entries in
            guard let held = entries[key] else { return nil }
            if held.isFresh(at: now) { return held }
            entries.removeValue(forKey: key)
            return nil
        }
    }

    func store(_ credential: HeldCredential, for key: String) {
        entries.withLock { $0[key] = credential }
    }
}
