import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilProjection
import SigilService

/// Key-encryption-key rotation: every data key still wrapped by another key-encryption key (`SIGIL_KEK_PREVIOUS`) is
/// re-wrapped under `SIGIL_KEK` and published again under its own key on `sigil.config`, so compaction keeps only the
/// new wrapping and the projection replaces the row. Runs at start and every `interval`; reports how many remain
/// (`sigil.issue.data_keys_to_rewrap`) and says in the log when `SIGIL_KEK_PREVIOUS` may be removed. Any number of
/// replicas may do it at once: the same data key re-wrapped twice is the same key.
struct DataKeyRewrap: Service {
    let keyring: TenantKeyring
    let schema: SchemaName
    let postgres: PostgresClient
    let context: ServiceContext
    var interval: Duration = .seconds(30)

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var announced = false
            while !Task.isCancelled {
                do {
                    let remaining = try await rewrapOnce(logger: context.logger)
                    if remaining == 0, keyring.previousKEK != nil, !announced {
                        announced = true
                        context.logger.notice(
                            "every data key is wrapped by the current key-encryption key; SIGIL_KEK_PREVIOUS may be removed",
                            metadata: ["kek": "\(keyring.kek.keyID)"])
                    }
                } catch {
                    context.logger.warning(
                        "data keys not re-wrapped; trying again",
                        metadata: ["error": "\(String(reflecting: error))"])
                }
                try await Task.sleep(for: interval)
            }
        }
    }

    /// Re-wraps and publishes every data key wrapped by another key-encryption key; returns how many were left
    /// before this pass (0: nothing to do).
    @discardableResult
    func rewrapOnce(logger: Logger) async throws -> Int {
        let rows = try await postgres.query(
            """
            SELECT wrapped_key FROM \(unescaped: schema.rawValue).tenant_data_keys
            WHERE kek_id <> \(keyring.kek.keyID) ORDER BY tenant, key_id
            """, logger: logger)
        var pending: [WrappedDataKey] = []
        for try await wrapped in rows.decode(String.self) {
            pending.append(try EventJSON.decoder.decode(WrappedDataKey.self, from: Data(wrapped.utf8)))
        }
        Gauge(label: "sigil.issue.data_keys_to_rewrap").record(pending.count)
        guard !pending.isEmpty else { return 0 }
        logger.notice(
            "re-wrapping data keys under the current key-encryption key",
            metadata: ["count": "\(pending.count)", "kek": "\(keyring.kek.keyID)"])
        for (done, wrapped) in pending.enumerated() {
            let dataKey = try keyring.unwrap(wrapped)
            let rewrapped = try keyring.kek.wrap(dataKey)
            try await context.publish(
                TenantKeyRotated(keyID: dataKey.keyID, wrappedDataKey: Array(try EventJSON.encoder.encode(rewrapped))),
                to: .config, tenant: dataKey.tenant,
                partitionKey: TenantKeyring.recordKey(tenant: dataKey.tenant, keyID: dataKey.keyID),
                subject: dataKey.keyID)
            if (done + 1) % 100 == 0 {
                logger.info("re-wrapping data keys", metadata: ["done": "\(done + 1)", "of": "\(pending.count)"])
            }
        }
        return pending.count
    }
}
