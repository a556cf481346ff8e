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
        signed.signature = EventSignature.single(keyID: keyID, signature: signature)
        return signed
    }

    /// Largest batch under one signature: paths stay at 12 hashes or fewer.
    public static let maximumBatch = 4_096

    /// The events, in order, signed together: one Ed25519 signature over the root of a Merkle tree of their signing
    /// inputs (`EventBatchTree`), each event carrying its path to that root, so each still verifies alone. For events
    /// produced together (a busy edge's per-request reports); a single event is signed alone.
    public func sign(batch events: [CloudEvent]) throws -> [CloudEvent] {
        guard events.count > 1 else { return try events.map(sign) }
        var signed: [CloudEvent] = []
        signed.reserveCapacity(events.count)
        for start in stride(from: 0, to: events.count, by: Self.maximumBatch) {
            let chunk = events[start..<min(start + Self.maximumBatch, events.count)]
            guard chunk.count > 1 else {
                signed.append(contentsOf: try chunk.map(sign))
                continue
            }
            let levels = EventBatchTree.levels(of: chunk.map { EventBatchTree.leafHash($0.signingInput) })
            let message = EventBatchTree.signedMessage(root: levels[levels.count - 1][0], size: chunk.count)
            let signature = Data(try key.signature(for: message)).base64EncodedString()
            for (index, event) in chunk.enumerated() {
                var event = event
                event.signature = EventSignature.batched(
                    keyID: keyID, signature: signature, index: index, size: chunk.count,
                    path: EventBatchTree.path(of: index, in: levels))
                signed.append(event)
            }
        }
        return signed
    }
}
