import Crypto
import Foundation
import SigilCrypto
import SigilEvents
import Synchronization
import _CryptoExtras

/// The tenants' RS256 signing keys: generated (an RSA key cannot be derived from a seed, as the ES256 and EdDSA keys
/// are), one per tenant and signing period, published on `sigil.config` with the private key encrypted by the tenant's
/// data key, kept in `issue.tenant_signing_keys` and here. Every key of a period is valid: two replicas that generate
/// one at the same moment each sign with their own, and the JWKS lists both.
final class TenantStoredSigningKeys: Sendable {
    struct StoredKey: Sendable {
        let kid: String
        let period: Int64
        /// The data key its private key is encrypted with (destroying that data key destroys this key).
        let dataKeyID: String
        let key: _RSA.Signing.PrivateKey
    }

    private let keys = Mutex<[String: [StoredKey]]>([:])

    /// Keeps a key (again: ignored), in the order learned.
    func remember(tenant: String, _ key: StoredKey) {
        keys.withLock { keys in
            if !(keys[tenant] ?? []).contains(where: { $0.kid == key.kid }) { keys[tenant, default: []].append(key) }
        }
    }

    /// The key that signs in `period`: the first learned.
    func signing(tenant: String, period: Int64) -> StoredKey? {
        keys.withLock { $0[tenant]?.first { $0.period == period } }
    }

    /// Every key of the periods.
    func keys(tenant: String, periods: ClosedRange<Int64>) -> [StoredKey] {
        keys.withLock { $0[tenant]?.filter { periods.contains($0.period) } ?? [] }
    }

    func forget(tenant: String, dataKeyID: String? = nil) {
        keys.withLock { keys in
            if let dataKeyID { keys[tenant]?.removeAll { $0.dataKeyID == dataKeyID } } else { keys[tenant] = nil }
        }
    }

    /// The field binding a private key's ciphertext to its key id.
    static func field(_ kid: String) -> String { "signing-key/\(kid)" }

    /// A new RS256 key for the tenant and period, and the event that publishes it.
    static func generate(
        tenant: String, period: Int64, dataKey: TenantDataKey
    ) throws -> (StoredKey, TenantSigningKeyCreated) {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let kid = "rs256-\(dataKey.keyID)-\(period)-\(UUIDv7.generate().suffix(8))"
        let encrypted = try dataKey.encrypt(Array(key.derRepresentation), field: field(kid))
        let event = TenantSigningKeyCreated(
            kid: kid, algorithm: "RS256", period: period, publicKey: Array(key.publicKey.derRepresentation),
            privateKeyEncrypted: encrypted.description)
        return (StoredKey(kid: kid, period: period, dataKeyID: dataKey.keyID, key: key), event)
    }

    /// The key an event published, decrypted with the tenant's data key (which must be known).
    static func opened(_ event: TenantSigningKeyCreated, keyring: TenantKeyring, tenant: String) throws -> StoredKey {
        let encrypted = try EncryptedValue(parsing: event.privateKeyEncrypted)
        let der = try keyring.decrypt(encrypted, tenant: tenant, field: field(event.kid))
        return StoredKey(
            kid: event.kid, period: event.period, dataKeyID: encrypted.keyID,
            key: try _RSA.Signing.PrivateKey(derRepresentation: der))
    }
}
