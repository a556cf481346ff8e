import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilProjection
import SigilService
import Synchronization

/// Tenant data keys, unwrapped in memory only. Wrapped copies travel as `tenant key rotated` events on the config
/// topic and rest in `issue.tenant_data_keys`; the key-encryption key (`SIGIL_KEK`) never leaves this process.
/// Deleting a tenant forgets its keys, which crypto-shreds everything encrypted with them.
final class TenantKeyring: Sendable {
    let kek: KeyEncryptionKey
    private let keys = Mutex<[String: [TenantDataKey]]>([:])

    init(kek: KeyEncryptionKey) { self.kek = kek }

    static func loadKEK(_ configuration: ServiceConfiguration) throws -> KeyEncryptionKey {
        guard let material = try configuration.source.key("SIGIL_KEK", bytes: 32) else {
            throw ConfigurationError(key: "SIGIL_KEK", expected: "set: the key-encryption key, 32 random bytes, base64")
        }
        let keyID = configuration.source.string("SIGIL_KEK_ID", default: "kek-1")
        return try KeyEncryptionKey(keyID: keyID, material: material)
    }

    func remember(_ key: TenantDataKey) {
        keys.withLock { keys in
            if !(keys[key.tenant] ?? []).contains(where: { $0.keyID == key.keyID }) {
                keys[key.tenant, default: []].append(key)
            }
        }
    }

    func forget(tenant: String) {
        _ = keys.withLock { $0.removeValue(forKey: tenant) }
    }

    /// The tenant's data keys, oldest first.
    func keys(tenant: String) -> [TenantDataKey] {
        keys.withLock { $0[tenant] ?? [] }
    }

    func key(tenant: String, keyID: String) -> TenantDataKey? {
        keys.withLock { $0[tenant]?.first { $0.keyID == keyID } }
    }

    /// The tenant's newest data key, created (and published, wrapped) on first use.
    func currentKey(tenant: String, context: ServiceContext) async throws -> TenantDataKey {
        if let key = keys.withLock({ $0[tenant]?.last }) { return key }
        let key = TenantDataKey(tenant: tenant)
        let wrapped = try kek.wrap(key)
        try await context.publish(
            TenantKeyRotated(keyID: key.keyID, wrappedDataKey: Array(try EventJSON.encoder.encode(wrapped))),
            to: .config, tenant: tenant, partitionKey: "\(tenant)/data-key/\(key.keyID)", subject: key.keyID
        )
        remember(key)
        return key
    }

    func decrypt(_ value: EncryptedValue, tenant: String, field: String) throws -> [UInt8] {
        guard let key = key(tenant: tenant, keyID: value.keyID) else {
            throw SigilCryptoError(.unknownKey, "no data key \(value.keyID) for this tenant")
        }
        return try key.decrypt(value, field: field)
    }
}

/// Projects wrapped tenant data keys into `issue.tenant_data_keys` and the keyring.
struct TenantKeyProjection: Projection {
    let name = "tenant-keys"
    let schema: SchemaName
    let keyring: TenantKeyring
    let postgres: PostgresClient

    func start(logger: Logger) async throws {
        let rows = try await postgres.query(
            "SELECT wrapped_key FROM \(unescaped: schema.rawValue).tenant_data_keys", logger: logger)
        for try await wrapped in rows.decode(String.self) {
            let wrappedKey = try EventJSON.decoder.decode(WrappedDataKey.self, from: Data(wrapped.utf8))
            keyring.remember(try keyring.kek.unwrap(wrappedKey))
        }
    }

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        switch event.payload {
        case let rotated as TenantKeyRotated:
            guard
                let wrapped = try? EventJSON.decoder.decode(
                    WrappedDataKey.self, from: Data(rotated.wrappedDataKey.bytes)),
                wrapped.tenant == event.envelope.tenant
            else {
                throw ProjectionRejection(
                    code: "invalid-wrapped-key", detail: "the wrapped data key is malformed or for another tenant")
            }
            let unwrapped: TenantDataKey
            do {
                unwrapped = try keyring.kek.unwrap(wrapped)
            } catch {
                throw ProjectionRejection(code: error.code.rawValue, detail: error.detail)
            }
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).tenant_data_keys (tenant, key_id, kek_id, wrapped_key, created_at)
                VALUES (\(wrapped.tenant), \(wrapped.keyID), \(wrapped.kekID), \(String(decoding: rotated.wrappedDataKey.bytes, as: UTF8.self)), \(event.envelope.time))
                ON CONFLICT (tenant, key_id) DO NOTHING
                """,
                logger: logger
            )
            keyring.remember(unwrapped)
        case is TenantDeleted:
            try await connection.query(
                "DELETE FROM \(unescaped: schema.rawValue).tenant_data_keys WHERE tenant = \(event.envelope.tenant)",
                logger: logger
            )
            keyring.forget(tenant: event.envelope.tenant)
        default:
            return
        }
    }
}
