import Crypto
import Foundation
import Synchronization

/// The admin tokens a service accepts. Only SHA-256 digests of tokens are kept; a presented token is digested and
/// looked up, so the token itself is never stored or compared byte by byte.
public final class AdminTokenStore: Sendable {
    private let principals = Mutex<[String: AdminPrincipal]>([:])

    public init() {}

    /// Accepts `token` as `principal` from now on.
    public func add(token: String, principal: AdminPrincipal) {
        let digest = Self.digest(token)
        principals.withLock { $0[digest] = principal }
    }

    /// Accepts a token known only by its digest (hex SHA-256), as configuration events carry it.
    public func add(digest: String, principal: AdminPrincipal) {
        principals.withLock { $0[digest.lowercased()] = principal }
    }

    public func remove(digest: String) {
        _ = principals.withLock { $0.removeValue(forKey: digest.lowercased()) }
    }

    public func principal(for token: String) -> AdminPrincipal? {
        let digest = Self.digest(token)
        return principals.withLock { $0[digest] }
    }

    public static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
