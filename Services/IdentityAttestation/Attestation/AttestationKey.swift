import Crypto
import Foundation
import SigilCrypto
import SigilService

/// The attestation service's HPKE key: every replica loads the same private key (`SIGIL_ATTEST_PRIVATE_KEY`,
/// 32 bytes base64), so evidence sealed to it opens on whichever replica consumes the request.
enum AttestationKey {
    static func load(_ configuration: ServiceConfiguration) throws -> HPKERecipientKey {
        guard let material = try configuration.source.key("SIGIL_ATTEST_PRIVATE_KEY", bytes: 32) else {
            throw ConfigurationError(
                key: "SIGIL_ATTEST_PRIVATE_KEY", expected: "set: 32 random bytes, base64 (openssl rand -base64 32)")
        }
        let privateKey: Curve25519.KeyAgreement.PrivateKey
        do {
            privateKey = try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: material)
        } catch {
            throw ConfigurationError(key: "SIGIL_ATTEST_PRIVATE_KEY", expected: "an X25519 private key")
        }
        let digest = SHA256.hash(data: privateKey.publicKey.rawRepresentation)
        let keyID = "ak-" + digest.prefix(8).map { String(format: "%02x", $0) }.joined()
        return HPKERecipientKey(keyID: keyID, privateKey: privateKey)
    }
}
