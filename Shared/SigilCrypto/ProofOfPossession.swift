import Crypto
import X509
import _CryptoExtras

/// A signature by a certificate's key over a message (a request's proof message): possession of the key, not just a
/// copy of the public certificate. The algorithm follows from the key (ECDSA with the curve's hash, RSA PKCS #1 v1.5
/// with SHA-256, Ed25519); the evidence never chooses it.
public enum ProofOfPossession {
    public static func algorithm(for key: Certificate.PublicKey) -> Certificate.SignatureAlgorithm? {
        if P256.Signing.PublicKey(key) != nil { return .ecdsaWithSHA256 }
        if P384.Signing.PublicKey(key) != nil { return .ecdsaWithSHA384 }
        if P521.Signing.PublicKey(key) != nil { return .ecdsaWithSHA512 }
        if _RSA.Signing.PublicKey(key) != nil { return .sha256WithRSAEncryption }
        if Curve25519.Signing.PublicKey(key) != nil { return .ed25519 }
        return nil
    }

    public struct UnsupportedKey: Error, CustomStringConvertible {
        public var description: String { "the certificate's key is not ECDSA (P-256/384/521), RSA or Ed25519" }
    }

    /// The proof by `key` (the private half of `certificate`'s key).
    public static func sign(
        _ message: [UInt8], with key: Certificate.PrivateKey, of certificate: Certificate
    ) throws -> [UInt8] {
        guard let algorithm = algorithm(for: certificate.publicKey) else { throw UnsupportedKey() }
        return try key.sign(bytes: message, signatureAlgorithm: algorithm).rawRepresentation
    }

    public static func isValid(_ proof: [UInt8], of message: [UInt8], by key: Certificate.PublicKey) -> Bool {
        guard let algorithm = algorithm(for: key) else { return false }
        return key.isValidSignature(proof, for: message, signatureAlgorithm: algorithm)
    }
}
