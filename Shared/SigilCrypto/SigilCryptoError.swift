/// A cryptographic refusal. Descriptions name what failed, never key material or plaintext.
public struct SigilCryptoError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// The ciphertext, its associated data or the key do not match: tampered, replayed elsewhere, or wrong key.
        case authenticationFailed = "authentication-failed"
        /// Sealed to, or encrypted with, a key this holder does not have.
        case unknownKey = "unknown-key"
        /// Not the shape of a sealed message, encrypted value or key.
        case malformed
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code.rawValue): \(detail)" }
}
