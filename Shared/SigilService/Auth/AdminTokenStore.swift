import Crypto
import Foundation
import Synchronization

/// The admin tokens a service accepts. Only SHA-256 digests of tokens are kept. A presented token is digested and
/// compared with every known digest in constant time (no early exit, every entry visited), so neither the token nor
/// which digest came close shows in the answer's timing.
public final class AdminTokenStore: Sendable {
    private let principals = Mutex<[(digest: [UInt8], principal: AdminPrincipal)]>([])

    public init() {}

    /// Accepts `token` as `principal` from now on.
    public func add(token: String, principal: AdminPrincipal) {
        add(digest: Array(SHA256.hash(data: Array(token.utf8))), principal: principal)
    }

    /// Accepts a token known only by its digest (hex SHA-256), as configuration events carry it.
    public func add(digest: String, principal: AdminPrincipal) {
        guard let bytes = Self.bytes(hex: digest) else { return }
        add(digest: bytes, principal: principal)
    }

    public func remove(digest: String) {
        guard let bytes = Self.bytes(hex: digest) else { return }
        principals.withLock { $0.removeAll { $0.digest == bytes } }
    }

    public func principal(for token: String) -> AdminPrincipal? {
        let presented = Array(SHA256.hash(data: Array(token.utf8)))
        return principals.withLock { entries in
            var found: AdminPrincipal?
            for entry in entries where Self.constantTimeEqual(entry.digest, presented) { found = entry.principal }
            return found
        }
    }

    public static func digest(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    private func add(digest: [UInt8], principal: AdminPrincipal) {
        principals.withLock { entries in
            entries.removeAll { $0.digest == digest }
            entries.append((digest, principal))
        }
    }

    /// Equal-length byte strings compared without an early exit.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    static func bytes(hex: String) -> [UInt8]? {
        let characters = Array(hex.lowercased().utf8)
        guard characters.count == 64 else { return nil }
        var bytes: [UInt8] = []
        for index in stride(from: 0, to: 64, by: 2) {
            guard let byte = UInt8(String(decoding: characters[index...index + 1], as: UTF8.self), radix: 16) else {
                return nil
            }
            bytes.append(byte)
        }
        return bytes
    }
}
