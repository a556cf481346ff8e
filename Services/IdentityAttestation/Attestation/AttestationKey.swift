import Crypto
import Foundation
import SigilCrypto
import SigilService
import Synchronization

/// The attestation service's HPKE keys, one per rotation period, derived from one master secret every replica holds
/// (`SIGIL_ATTEST_PRIVATE_KEY`, 32 bytes base64): each replica computes the same key for a period, so evidence
/// sealed to it opens on whichever replica takes the request, and nothing about the schedule needs coordination.
/// Edges seal to the current period's key; the previous and next periods' keys are accepted too (the overlap that
/// covers clocks, caches and an edge that learnt the next key early).
struct AttestationKeySchedule: Sendable {
    let master: SymmetricKey
    /// `SIGIL_ATTEST_KEY_ROTATION_SECONDS` (default one day).
    let period: TimeInterval
    /// Keys already derived, by period: an access request looks its key up instead of deriving three.
    private let derived = DerivedKeys()

    private final class DerivedKeys: Sendable {
        let keys = Mutex<[Int64: HPKERecipientKey]>([:])
    }

    init(master: SymmetricKey, period: TimeInterval) {
        self.master = master
        self.period = period
    }

    static func load(_ configuration: ServiceConfiguration) throws -> AttestationKeySchedule {
        guard let material = try configuration.source.key("SIGIL_ATTEST_PRIVATE_KEY", bytes: 32) else {
            throw ConfigurationError(
                key: "SIGIL_ATTEST_PRIVATE_KEY", expected: "set: 32 random bytes, base64 (openssl rand -base64 32)")
        }
        let period = try configuration.source.int(
            "SIGIL_ATTEST_KEY_ROTATION_SECONDS", default: 86_400, in: 5...(366 * 86_400))
        return AttestationKeySchedule(master: SymmetricKey(data: material), period: TimeInterval(period))
    }

    /// The rotation period `date` falls in.
    func epoch(at date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / period).rounded(.down)) }

    func start(of epoch: Int64) -> Date { Date(timeIntervalSince1970: Double(epoch) * period) }

    /// The key of one period: HKDF-SHA256 of the master secret, bound to the period's number (derived once).
    func key(for epoch: Int64) -> HPKERecipientKey {
        if let key = derived.keys.withLock({ $0[epoch] }) { return key }
        let key = derive(epoch)
        derived.keys.withLock { keys in
            keys[epoch] = key
            keys = keys.filter { $0.key >= epoch - 2 }  // older periods are never accepted again
        }
        return key
    }

    private func derive(_ epoch: Int64) -> HPKERecipientKey {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: master, salt: Array("sigil/attestation-key/v1".utf8), info: Array("epoch \(epoch)".utf8),
            outputByteCount: 32)
        // Any 32 bytes are an X25519 private key (the scalar is clamped when used).
        let privateKey = derived.withUnsafeBytes { try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0) }
        let digest = SHA256.hash(data: privateKey.publicKey.rawRepresentation)
        let keyID = "ak-" + digest.prefix(8).map { String(format: "%02x", $0) }.joined() + "-e\(epoch)"
        return HPKERecipientKey(keyID: keyID, privateKey: privateKey)
    }

    /// The keys evidence may be sealed to now: the previous, current and next periods'.
    func acceptedKeys(at date: Date = Date()) -> [String: HPKERecipientKey] {
        let current = epoch(at: date)
        var keys: [String: HPKERecipientKey] = [:]
        for epoch in (current - 1)...(current + 1) {
            let key = key(for: epoch)
            keys[key.keyID] = key
        }
        return keys
    }
}
