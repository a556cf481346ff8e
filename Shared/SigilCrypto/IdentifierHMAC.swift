import Crypto
import Foundation
import SigilEvents

/// HMAC-SHA256 of token identifiers, for logs and audit rows: equal tokens give equal digests, so a token can be
/// traced across events, but the digest reveals nothing of it without the key.
public struct IdentifierHMAC: Sendable {
    private let key: SymmetricKey

    /// `material` should be at least 32 random bytes, kept like any other secret.
    public init(material: [UInt8]) throws(SigilCryptoError) {
        guard material.count >= 32 else { throw SigilCryptoError(.malformed, "an HMAC key is at least 32 bytes") }
        key = SymmetricKey(data: material)
    }

    /// `hmac-sha256:<first 128 bits, base64url>`.
    public func digest(_ identifier: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(identifier.utf8), using: key)
        let truncated = Data(Array(mac).prefix(16)).base64URLEncodedString
        return "hmac-sha256:\(truncated)"
    }
}
