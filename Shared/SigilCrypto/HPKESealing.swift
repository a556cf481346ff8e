import Crypto
import Foundation
import SigilEvents

/// What a sealed message is for, bound into the HPKE key schedule (`info`) and the AEAD (`associatedData`): a
/// message sealed for one purpose or request cannot be opened as another.
public struct SealingContext: Sendable, Hashable {
    public var purpose: String
    public var associatedData: [UInt8]

    public init(purpose: String, associatedData: [UInt8] = []) {
        self.purpose = purpose
        self.associatedData = associatedData
    }

    /// Evidence from an edge to the attestation service, bound to everything the request says about itself: tenant,
    /// request id, the edge and its one-time reply key, the target and the deadline. Evidence copied into another
    /// request, or a request re-sent with another reply address, target or deadline, does not open.
    public static func evidence(
        tenant: String, requestID: String, edgeID: String, replyKey: [UInt8], target: AccessTarget, deadline: Deadline
    ) -> SealingContext {
        SealingContext(
            purpose: "sigil/evidence/v2",
            associatedData: lengthPrefixed([
                Array(tenant.utf8), Array(requestID.utf8), Array(edgeID.utf8), replyKey,
                Array("\(target.scheme)://\(target.host):\(target.port)".utf8),
                Array(String(deadline.milliseconds).utf8),
            ]))
    }

    /// The evidence context of a request, from the request itself.
    public static func evidence(tenant: String, of request: AccessRequested) -> SealingContext {
        evidence(
            tenant: tenant, requestID: request.requestID, edgeID: request.reply.edgeID,
            replyKey: request.reply.publicKey.bytes, target: request.target, deadline: request.deadline)
    }

    static func lengthPrefixed(_ fields: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for field in fields {
            withUnsafeBytes(of: UInt32(field.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: field)
        }
        return bytes
    }

    /// A credential from the issuance service to one edge, bound to tenant and request.
    public static func credential(tenant: String, requestID: String) -> SealingContext {
        SealingContext(purpose: "sigil/credential/v1", associatedData: Array("\(tenant)\u{0}\(requestID)".utf8))
    }
}

/// HPKE (RFC 9180) base mode, X25519-HKDF-SHA256 / HKDF-SHA256 / ChaCha20-Poly1305, through swift-crypto.
public enum HPKESealing {
    public static let ciphersuite = HPKE.Ciphersuite(kem: .Curve25519_HKDF_SHA256, kdf: .HKDF_SHA256, aead: .chaChaPoly)
    public static let ciphersuiteName = "X25519-HKDF-SHA256-ChaCha20Poly1305"

    /// Seals `plaintext` so that only the holder of the private key for `recipientKeyID` can read it.
    public static func seal(
        _ plaintext: [UInt8],
        to recipient: Curve25519.KeyAgreement.PublicKey,
        recipientKeyID: String,
        context: SealingContext
    ) throws -> SealedData {
        var sender = try HPKE.Sender(
            recipientKey: recipient, ciphersuite: ciphersuite, info: Data(context.purpose.utf8))
        let ciphertext = try sender.seal(plaintext, authenticating: context.associatedData)
        return SealedData(
            recipientKeyID: recipientKeyID,
            encapsulatedKey: Array(sender.encapsulatedKey),
            ciphertext: Array(ciphertext)
        )
    }
}

/// A private key that sealed messages are opened with: the attestation key, or an edge's one-time reply key.
public struct HPKERecipientKey: Sendable {
    public let keyID: String
    public let privateKey: Curve25519.KeyAgreement.PrivateKey

    public init(keyID: String = UUIDv7.generate(), privateKey: Curve25519.KeyAgreement.PrivateKey = .init()) {
        self.keyID = keyID
        self.privateKey = privateKey
    }

    public var publicKey: Curve25519.KeyAgreement.PublicKey { privateKey.publicKey }
    public var publicKeyBytes: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }

    /// Opens a message sealed to this key with the same context; anything else is refused.
    public func open(_ sealed: SealedData, context: SealingContext) throws(SigilCryptoError) -> [UInt8] {
        guard sealed.recipientKeyID == keyID else {
            throw SigilCryptoError(.unknownKey, "sealed to key \(sealed.recipientKeyID), not \(keyID)")
        }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: privateKey,
                ciphersuite: HPKESealing.ciphersuite,
                info: Data(context.purpose.utf8),
                encapsulatedKey: Data(sealed.encapsulatedKey.bytes)
            )
            return Array(try recipient.open(sealed.ciphertext.bytes, authenticating: context.associatedData))
        } catch {
            throw SigilCryptoError(.authenticationFailed, "sealed message does not open with this key and context")
        }
    }

    /// Reads a public key as published (raw 32 bytes).
    public static func publicKey(_ bytes: [UInt8]) throws(SigilCryptoError) -> Curve25519.KeyAgreement.PublicKey {
        do {
            return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: bytes)
        } catch {
            throw SigilCryptoError(.malformed, "not an X25519 public key")
        }
    }
}
