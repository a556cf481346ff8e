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
/// Destroying a tenant's keys forgets them here, deletes their rows, and supersedes their records on the compacted
/// topic, which crypto-shreds everything encrypted with them.
///
/// KEK rotation: `SIGIL_KEK` wraps; `SIGIL_KEK_PREVIOUS` (the key it replaces) still unwraps, until `DataKeyRewrap`
/// has re-wrapped every data key under the new one.
final class TenantKeyring: Sendable {
    let kek: KeyEncryptionKey
    /// The key-encryption key being replaced: unwraps only.
    let previousKEK: KeyEncryptionKey?
    private let keys = Mutex<[String: [TenantDataKey]]>([:])

    init(kek: KeyEncryptionKey, previous: KeyEncryptionKey? = nil) {
        self.kek = kek
        self.previousKEK = previous
    }

    /// The keyring of `SIGIL_KEK` (id `SIGIL_KEK_ID`) and, during a rotation, `SIGIL_KEK_PREVIOUS`
    /// (`SIGIL_KEK_PREVIOUS_ID`).
    static func load(_ configuration: ServiceConfiguration) throws -> TenantKeyring {
        let source = configuration.source
        guard let material = try source.key("SIGIL_KEK", bytes: 32) else {
            throw ConfigurationError(key: "SIGIL_KEK", expected: "set: the key-encryption key, 32 random bytes, base64")
        }
        let kek = try KeyEncryptionKey(keyID: source.string("SIGIL_KEK_ID", default: "kek-1"), material: material)
        var previous: KeyEncryptionKey?
        if let old = try source.key("SIGIL_KEK_PREVIOUS", bytes: 32) {
            guard let oldID = source.string("SIGIL_KEK_PREVIOUS_ID"), oldID != kek.keyID else {
                throw ConfigurationError(
                    key: "SIGIL_KEK_PREVIOUS_ID", expected: "the replaced key's id, different from SIGIL_KEK_ID")
            }
            previous = try KeyEncryptionKey(keyID: oldID, material: old)
        }
        return TenantKeyring(kek: kek, previous: previous)
    }

    /// A wrapped data key opened with whichever key-encryption key wrapped it; one this process does not have is an
    /// error that says how to fix it.
    func unwrap(_ wrapped: WrappedDataKey) throws(SigilCryptoError) -> TenantDataKey {
        if wrapped.kekID == kek.keyID { return try kek.unwrap(wrapped) }
        if let previousKEK, wrapped.kekID == previousKEK.keyID { return try previousKEK.unwrap(wrapped) }
        throw SigilCryptoError(
            .unknownKey,
            "data key \(wrapped.keyID) of tenant \(wrapped.tenant) is wrapped by key-encryption key \(wrapped.kekID), "
                + "which is neither SIGIL_KEK_ID (\(kek.keyID)) nor SIGIL_KEK_PREVIOUS_ID"
                + (previousKEK.map { " (\($0.keyID))" } ?? "")
                + ": give that key as SIGIL_KEK_PREVIOUS until every data key is re-wrapped")
    }

    /// The key of a data key's records on `sigil.config`: its wrapping, re-wrapping and destruction share it, so
    /// compaction keeps only the latest.
    static func recordKey(tenant: String, keyID: String) -> String { "\(tenant)/data-key/\(keyID)" }

    /// Forgets one data key (destroyed).
    func forget(tenant: String, keyID: String) {
        keys.withLock { $0[tenant]?.removeAll { $0.keyID == keyID } }
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
            to: .config, tenant: tenant, partitionKey: Self.recordKey(tenant: tenant, keyID: key.keyID),
            subject: key.keyID
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

/// Projects wrapped tenant data keys into `issue.tenant_data_keys` and the keyring, and generated RS256 signing keys
/// into `issue.tenant_signing_keys` and the signing keys' store.
struct TenantKeyProjection: Projection {
    let name = "tenant-keys"
    let schema: SchemaName
    let keyring: TenantKeyring
    let postgres: PostgresClient
    var stored = TenantStoredSigningKeys()

    func start(logger: Logger) async throws {
        let rows = try await postgres.query(
            "SELECT wrapped_key FROM \(unescaped: schema.rawValue).tenant_data_keys", logger: logger)
        for try await wrapped in rows.decode(String.self) {
            let wrappedKey = try EventJSON.decoder.decode(WrappedDataKey.self, from: Data(wrapped.utf8))
            do {
                keyring.remember(try keyring.unwrap(wrappedKey))
            } catch {
                throw ConfigurationError(key: "SIGIL_KEK_PREVIOUS", expected: error.detail)
            }
        }
        let signingRows = try await postgres.query(
            """
            SELECT tenant, kid, period, private_key_encrypted FROM \(unescaped: schema.rawValue).tenant_signing_keys
            ORDER BY created_at, kid
            """, logger: logger)
        for try await (tenant, kid, period, encrypted) in signingRows.decode((String, String, Int64, String).self) {
            remember(tenant: tenant, kid: kid, period: period, encrypted: encrypted)
        }
    }

    /// A stored RS256 key, if its data key is known (else it waits for it, unreadable).
    private func remember(tenant: String, kid: String, period: Int64, encrypted: String) {
        let event = TenantSigningKeyCreated(
            kid: kid, algorithm: "RS256", period: period, publicKey: [], privateKeyEncrypted: encrypted)
        if let key = try? TenantStoredSigningKeys.opened(event, keyring: keyring, tenant: tenant) {
            stored.remember(tenant: tenant, key)
        }
    }

    /// The RS256 keys that waited for a data key that just arrived.
    private func openSigningKeys(
        tenant: String, dataKeyID: String, connection: PostgresConnection, logger: Logger
    ) async throws {
        let rows = try await connection.query(
            """
            SELECT kid, period, private_key_encrypted FROM \(unescaped: schema.rawValue).tenant_signing_keys
            WHERE tenant = \(tenant) AND data_key_id = \(dataKeyID) ORDER BY created_at, kid
            """, logger: logger)
        for try await (kid, period, encrypted) in rows.decode((String, Int64, String).self) {
            remember(tenant: tenant, kid: kid, period: period, encrypted: encrypted)
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
                unwrapped = try keyring.unwrap(wrapped)
            } catch {
                throw ProjectionRejection(code: error.code.rawValue, detail: error.detail)
            }
            // The same data key re-wrapped under a new key-encryption key replaces the row.
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).tenant_data_keys (tenant, key_id, kek_id, wrapped_key, created_at)
                VALUES (\(wrapped.tenant), \(wrapped.keyID), \(wrapped.kekID), \(String(decoding: rotated.wrappedDataKey.bytes, as: UTF8.self)), \(event.envelope.time))
                ON CONFLICT (tenant, key_id) DO UPDATE SET kek_id = EXCLUDED.kek_id, wrapped_key = EXCLUDED.wrapped_key
                WHERE tenant_data_keys.kek_id <> EXCLUDED.kek_id
                """,
                logger: logger
            )
            keyring.remember(unwrapped)
            try await openSigningKeys(
                tenant: wrapped.tenant, dataKeyID: wrapped.keyID, connection: connection, logger: logger)
        case let destroyed as TenantKeyDestroyed:
            try await connection.query(
                """
                DELETE FROM \(unescaped: schema.rawValue).tenant_data_keys
                WHERE tenant = \(event.envelope.tenant) AND key_id = \(destroyed.keyID)
                """,
                logger: logger
            )
            keyring.forget(tenant: event.envelope.tenant, keyID: destroyed.keyID)
            try await connection.query(
                """
                DELETE FROM \(unescaped: schema.rawValue).tenant_signing_keys
                WHERE tenant = \(event.envelope.tenant) AND data_key_id = \(destroyed.keyID)
                """,
                logger: logger
            )
            stored.forget(tenant: event.envelope.tenant, dataKeyID: destroyed.keyID)
        case let created as TenantSigningKeyCreated:
            // Kept even when its data key is not known yet (the config topic's partitions are read independently):
            // opened when the data key arrives. One whose data key was destroyed stays unreadable.
            guard let encrypted = try? EncryptedValue(parsing: created.privateKeyEncrypted) else {
                throw ProjectionRejection(
                    code: "invalid-signing-key", detail: "signing key \(created.kid) is not an encrypted value")
            }
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).tenant_signing_keys
                    (tenant, kid, period, data_key_id, private_key_encrypted, created_at)
                VALUES (\(event.envelope.tenant), \(created.kid), \(created.period), \(encrypted.keyID), \(created.privateKeyEncrypted), \(event.envelope.time))
                ON CONFLICT (tenant, kid) DO NOTHING
                """,
                logger: logger
            )
            if let key = try? TenantStoredSigningKeys.opened(created, keyring: keyring, tenant: event.envelope.tenant) {
                stored.remember(tenant: event.envelope.tenant, key)
            }
        case is TenantDeleted:
            for table in ["tenant_data_keys", "tenant_signing_keys"] {
                try await connection.query(
                    "DELETE FROM \(unescaped: schema.rawValue).\(unescaped: table) WHERE tenant = \(event.envelope.tenant)",
                    logger: logger
                )
            }
            keyring.forget(tenant: event.envelope.tenant)
            stored.forget(tenant: event.envelope.tenant)
        default:
            return
        }
    }
}
