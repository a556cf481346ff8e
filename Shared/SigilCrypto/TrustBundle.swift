import Crypto
import Foundation
import Metrics
import SigilEvents

/// The public keys of every service role, which every process loads at start (`SIGIL_TRUST_BUNDLE`): an event is
/// acted on only if one of them verifies its signature and the key's role may produce the event's type. A role may
/// have several keys at once, so a key is rotated by adding the new one to the bundle, moving the service to it, then
/// removing the old one.
public struct TrustBundle: Codable, Sendable {
    public struct Key: Codable, Sendable, Hashable {
        public var role: ServiceRole
        public var keyID: String
        public var publicKey: Base64Bytes

        public init(role: ServiceRole, keyID: String, publicKey: Base64Bytes) {
            self.role = role
            self.keyID = keyID
            self.publicKey = publicKey
        }
    }

    public var keys: [Key]

    public init(keys: [Key]) { self.keys = keys }

    /// Reads a bundle file (JSON `{"keys": [{"role", "keyID", "publicKey"}]}`), refusing one that cannot verify.
    public static func load(path: String) throws -> TrustBundle {
        guard let data = FileManager.default.contents(atPath: path), data.count <= 1024 * 1024 else {
            throw SigilCryptoError(.malformed, "the trust bundle \(path) cannot be read (or is over 1 MiB)")
        }
        let bundle: TrustBundle
        do {
            bundle = try JSONDecoder().decode(TrustBundle.self, from: data)
        } catch {
            throw SigilCryptoError(.malformed, "the trust bundle \(path) is not a JSON {\"keys\": [...]} document")
        }
        _ = try EventVerifier(bundle)
        return bundle
    }
}

/// Why an event was not acted on; the code names the dead letter and the metric.
public struct EventAuthenticationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let code: String
    public let detail: String

    public var description: String { "\(code): \(detail)" }
}

/// Verifies events against a trust bundle.
public struct EventVerifier: Sendable {
    private struct Signer {
        let role: ServiceRole
        let key: Curve25519.Signing.PublicKey
        /// What the source of an event this role produced starts with.
        let sourcePrefix: String
    }

    private let keys: [String: Signer]
    private let batchSignatures = VerifiedBatchSignatures()

    public init(_ bundle: TrustBundle) throws(SigilCryptoError) {
        var keys: [String: Signer] = [:]
        for entry in bundle.keys {
            guard keys[entry.keyID] == nil else {
                throw SigilCryptoError(.malformed, "the trust bundle lists key \(entry.keyID) twice")
            }
            guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: entry.publicKey.bytes) else {
                throw SigilCryptoError(.malformed, "the trust bundle's key \(entry.keyID) is not an Ed25519 public key")
            }
            keys[entry.keyID] = Signer(role: entry.role, key: key, sourcePrefix: "/sigil/\(entry.role.rawValue)/")
        }
        self.keys = keys
    }

    /// The role that signed the event, if the signature verifies, that role may produce this payload, and the event's
    /// source names that role; otherwise the reason (and `sigil.events.unauthenticated{reason}` counts it).
    @discardableResult
    public func verify(_ event: CloudEvent, _ payload: any EventPayload) throws(EventAuthenticationError) -> ServiceRole
    {
        do {
            return try check(event, payload)
        } catch {
            Counter(label: "sigil.events.unauthenticated", dimensions: [("reason", error.code)]).increment()
            throw error
        }
    }

    /// Whether `signature` (`<keyID>:<base64>`, as `EventSigner.signature(over:)` gives) verifies over `bytes` with
    /// a key of `role`.
    public func isValid(signature: String, over bytes: [UInt8], role: ServiceRole) -> Bool {
        guard let parsed = EventSignature(parsing: signature), parsed.batch == nil, let signer = keys[parsed.keyID],
            signer.role == role
        else { return false }
        return signer.key.isValidSignature(parsed.signature, for: bytes)
    }

    private func check(_ event: CloudEvent, _ payload: any EventPayload) throws(EventAuthenticationError) -> ServiceRole
    {
        guard let text = event.signature else {
            throw EventAuthenticationError(code: "unsigned-event", detail: "\(event.type) carries no signature")
        }
        guard let signature = EventSignature(parsing: text) else {
            throw EventAuthenticationError(
                code: "malformed-signature",
                detail: "the signature is not <keyID>:<base64> nor <keyID>:<base64>:<index>/<size>:<base64 path>")
        }
        guard let signer = keys[signature.keyID] else {
            throw EventAuthenticationError(
                code: "unknown-signing-key", detail: "key \(signature.keyID.prefix(64)) is not in the trust bundle")
        }
        guard verifies(signature, by: signer.key, of: event) else {
            throw EventAuthenticationError(
                code: "signature-invalid", detail: "the signature of \(event.type) does not verify")
        }
        guard EventAuthority.allowedRoles(for: payload).contains(signer.role) else {
            throw EventAuthenticationError(
                code: "role-not-allowed", detail: "role \(signer.role.rawValue) may not produce \(event.type)")
        }
        guard event.source.hasPrefix(signer.sourcePrefix) else {
            throw EventAuthenticationError(
                code: "source-mismatch", detail: "an event signed by \(signer.role.rawValue) names another source")
        }
        return signer.role
    }

    /// An event signed alone: its signature over its signing input. One of a batch: its leaf walked up its path to a
    /// root, and the batch's signature over that root — checked once per batch, then remembered.
    private func verifies(
        _ signature: EventSignature, by key: Curve25519.Signing.PublicKey, of event: CloudEvent
    ) -> Bool {
        guard let batch = signature.batch else {
            return key.isValidSignature(signature.signature, for: event.signingInput)
        }
        guard
            let root = EventBatchTree.root(
                leaf: EventBatchTree.leafHash(of: event), index: batch.index, size: batch.size, path: batch.path)
        else { return false }
        let verified = VerifiedBatchSignatures.Entry(
            keyID: signature.keyID, signature: signature.signature, root: root, size: batch.size)
        if batchSignatures.contains(verified) { return true }
        let message = EventBatchTree.signedMessage(root: root, size: batch.size)
        guard key.isValidSignature(signature.signature, for: message) else { return false }
        batchSignatures.insert(verified)
        return true
    }
}
