import Crypto
import Foundation
import SigilEvents

/// A service role's Ed25519 signing key: every event the service produces carries its signature.
public struct EventSigner: Sendable {
    public let role: ServiceRole
    public let keyID: String
    private let key: Curve25519.Signing.PrivateKey

    /// `material`: the 32-byte raw private key.
    public init(role: ServiceRole, keyID: String, material: [UInt8]) throws(SigilCryptoError) {
        guard (1...64).contains(keyID.utf8.count), !keyID.contains(":") else {
            throw SigilCryptoError(.malformed, "a signing key id is 1-64 characters without ':'")
        }
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: material)
        } catch {
            throw SigilCryptoError(.malformed, "a signing key is 32 bytes (Ed25519)")
        }
        self.role = role
        self.keyID = keyID
    }

    /// A new key (for `sigil dev up` and deploy tooling); its raw bytes are `material`.
    public static func generate(role: ServiceRole, keyID: String) -> (signer: EventSigner, material: [UInt8]) {
        let material = Array(Curve25519.Signing.PrivateKey().rawRepresentation)
        // A fresh 32-byte key and a valid id: cannot fail.
        return (try! EventSigner(role: role, keyID: keyID, material: material), material)
    }

    /// The public half, as a trust bundle lists it.
    public var trustedKey: TrustBundle.Key {
        TrustBundle.Key(role: role, keyID: keyID, publicKey: Base64Bytes(Array(key.publicKey.rawRepresentation)))
    }

    /// `<keyID>:<base64 signature>` over any bytes (a payload that carries its own signature).
    public func signature(over bytes: [UInt8]) throws -> String {
        "\(keyID):\(Data(try key.signature(for: bytes)).base64EncodedString())"
    }

    /// The event with its signature attribute set.
    public func sign(_ event: CloudEvent) throws -> CloudEvent {
        var signed = event
        let signature = try key.signature(for: event.signingInput)  // the input never includes the signature
        signed.signature = "\(keyID):\(Data(signature).base64EncodedString())"
        return signed
    }
}
