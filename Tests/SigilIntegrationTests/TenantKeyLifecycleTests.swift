import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import CredentialIssuance
@testable import SigilProjection
@testable import SigilService

/// Key-encryption-key rotation and crypto-shredding, with the issuance service's own parts on a real PostgreSQL and
/// the Kafka mock broker: what sigil-issue writes to `sigil.config` is read back, applied by its projection, and — for
/// "after compaction" — reduced to what a compacted topic keeps (the latest record per key; the mock broker does not
/// compact).
@Suite("Tenant data keys: KEK rotation re-wraps every key; deleting a tenant leaves nothing that decrypts its secrets")
struct TenantKeyLifecycleTests {
    let logger = Logger(label: "test.tenant-keys")
    static let kek1 = try! KeyEncryptionKey(keyID: "kek-1", material: (0..<32).map { UInt8($0) })
    static let kek2 = try! KeyEncryptionKey(keyID: "kek-2", material: (0..<32).map { UInt8(200 - $0) })

    /// sigil-issue's parts for one test: its context publishing to the mock broker, its schema, the config topic.
    struct Issue {
        let cluster: KafkaMockCluster
        let context: ServiceContext
        let schema: SchemaName
        let postgres: PostgresClient
        var topic: String { context.topics.name(.config) }

        func projection(_ keyring: TenantKeyring) -> TenantKeyProjection {
            TenantKeyProjection(schema: schema, keyring: keyring, postgres: postgres)
        }

        /// Every record of the config topic so far, oldest first (each partition in order).
        func records() async throws -> [KafkaConsumerMessage] {
            let partitions = context.topics.specification(.config).partitions
            var configuration = KafkaConsumerConfiguration(
                client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "reader"),
                mode: .assign((0..<partitions).map { .init(topic: topic, partition: $0, offset: .beginning) }))
            configuration.fetchWaitMaxMilliseconds = 5
            let consumer = try KafkaConsumer(configuration: configuration, logger: context.logger)
            defer { Task { await consumer.close() } }
            var expected = 0
            for partition in 0..<partitions {
                expected += Int(try await context.admin.highWatermark(topic: topic, partition: partition))
            }
            var messages: [KafkaConsumerMessage] = []
            let deadline = ContinuousClock.now + .seconds(20)
            while messages.count < expected, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch()
            {
                messages += batch
            }
            return messages
        }

        /// What a compacted topic keeps of `records`: the latest record of each key.
        static func compacted(_ records: [KafkaConsumerMessage]) -> [KafkaConsumerMessage] {
            var latest: [[UInt8]: KafkaConsumerMessage] = [:]
            for record in records { latest[record.key ?? []] = record }
            return latest.values.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
        }

        /// Applies records as the projection would read them.
        func apply(_ records: [KafkaConsumerMessage], to projection: TenantKeyProjection) async throws {
            try await postgres.withConnection { connection in
                for record in records {
                    let event = try CloudEvent(kafkaMessage: record)
                    try await projection.apply(
                        ProjectedEvent(
                            envelope: event, payload: try EventCatalog.sigil.decode(event), topic: record.topic,
                            partition: record.partition, offset: record.offset),
                        connection: connection, logger: context.logger)
                }
            }
        }
    }

    func withIssue(_ body: @Sendable (Issue) async throws -> Void) async throws {
        try await TestPostgres.withClient { postgres in
            let schema = TestPostgres.uniqueSchema("issue")
            try await MigrationRunner(schema: schema, migrations: SigilServiceDefinition.credentialIssuance.migrations)
                .apply(on: postgres, logger: logger)
            let (cluster, context) = try await IssuanceTestContext.make(
                postgres: postgres, topics: [.config], logger: logger)
            try await body(Issue(cluster: cluster, context: context, schema: schema, postgres: postgres))
        }
    }

    @Test("KEK rotation: the old KEK unwraps until every data key is re-wrapped; then the new one alone reads all")
    func kekRotation() async throws {
        try await withIssue { issue in
            let first = TenantKeyring(kek: Self.kek1)
            try await issue.projection(first).start(logger: logger)
            let acme = try await first.currentKey(tenant: "acme", context: issue.context)
            _ = try await first.currentKey(tenant: "globex", context: issue.context)
            try await issue.apply(try await issue.records(), to: issue.projection(first))
            let secret = try acme.encrypt(Array("sk_live_acme".utf8), field: "ledger-key/value")

            // The new KEK alone cannot start before the keys are re-wrapped, and says what to do.
            let tooEarly = await #expect(throws: ConfigurationError.self) {
                try await issue.projection(TenantKeyring(kek: Self.kek2)).start(logger: logger)
            }
            #expect("\(tooEarly.map { String(describing: $0) } ?? "")".contains("SIGIL_KEK_PREVIOUS"))

            // With both, the re-wrap pass re-publishes both keys under kek-2; the projection replaces the rows.
            let rotating = TenantKeyring(kek: Self.kek2, previous: Self.kek1)
            try await issue.projection(rotating).start(logger: logger)
            let rewrap = DataKeyRewrap(
                keyring: rotating, schema: issue.schema, postgres: issue.postgres, context: issue.context)
            #expect(try await rewrap.rewrapOnce(logger: logger) == 2)
            try await issue.apply(try await issue.records(), to: issue.projection(rotating))
            #expect(try await rewrap.rewrapOnce(logger: logger) == 0, "nothing left for kek-1")

            // kek-1 retired: a replica with kek-2 only starts from the table, or from the compacted topic alone.
            let rotated = TenantKeyring(kek: Self.kek2)
            try await issue.projection(rotated).start(logger: logger)
            #expect(
                try rotated.decrypt(secret, tenant: "acme", field: "ledger-key/value") == Array("sk_live_acme".utf8))
            let compacted = Issue.compacted(try await issue.records())
            #expect(compacted.count == 2, "one record per data key")
            let fromTopic = TenantKeyring(kek: Self.kek2)
            try await issue.postgres.query(
                "DELETE FROM \(unescaped: issue.schema.rawValue).tenant_data_keys", logger: logger)
            try await issue.apply(compacted, to: issue.projection(fromTopic))
            #expect(try fromTopic.decrypt(secret, tenant: "acme", field: "ledger-key/value").count == 12)
        }
    }

    @Test("deleting a tenant: rows gone, memory forgets, and after compaction no process holding every KEK decrypts")
    func cryptoShredding() async throws {
        try await withIssue { issue in
            let keyring = TenantKeyring(kek: Self.kek1)
            try await issue.projection(keyring).start(logger: logger)
            let acme = try await keyring.currentKey(tenant: "acme", context: issue.context)
            let globex = try await keyring.currentKey(tenant: "globex", context: issue.context)
            try await issue.apply(try await issue.records(), to: issue.projection(keyring))
            let acmeSecret = try acme.encrypt(Array("sk_live_acme".utf8), field: "f")
            let globexSecret = try globex.encrypt(Array("sk_live_globex".utf8), field: "f")
            // RS256 keys (generated, stored encrypted with the data key) for this period and the next.
            let signing = TenantSigningKeys(keyring: keyring, period: 30 * 86_400)
            try await signing.ensureRS256(tenant: "acme", dataKey: acme, context: issue.context)
            try await signing.ensureRS256(tenant: "acme", dataKey: acme, context: issue.context)
            let rsaKid = try #require(signing.current(tenant: "acme", algorithm: .rs256)).kid

            // Before: a fresh process reading the compacted topic decrypts, and holds the same RS256 keys, once each
            // (so the checks below can fail).
            let before = TenantKeyring(kek: Self.kek1)
            let beforeKeys = TenantStoredSigningKeys()
            var beforeProjection = issue.projection(before)
            beforeProjection.stored = beforeKeys
            try await issue.apply(Issue.compacted(try await issue.records()), to: beforeProjection)
            #expect(try before.decrypt(acmeSecret, tenant: "acme", field: "f").count == 12)
            #expect(beforeKeys.signing(tenant: "acme", period: signing.periodNumber(at: Date()))?.kid == rsaKid)
            #expect(beforeKeys.keys(tenant: "acme", periods: Int64.min...Int64.max).count == 2, "this period and next")
            try await issue.postgres.query(
                "DELETE FROM \(unescaped: issue.schema.rawValue).tenant_data_keys", logger: logger)
            try await issue.apply(try await issue.records(), to: issue.projection(keyring))

            let controller = TenantDeletionController(
                keyring: keyring, schema: issue.schema, postgres: issue.postgres, context: issue.context)
            #expect(try await controller.destroyKeys(of: "acme", logger: logger) == [acme.keyID])
            try await issue.apply(try await issue.records(), to: issue.projection(keyring))
            #expect(throws: SigilCryptoError.self) { try keyring.decrypt(acmeSecret, tenant: "acme", field: "f") }
            let rows = try await issue.postgres.query(
                "SELECT tenant FROM \(unescaped: issue.schema.rawValue).tenant_data_keys", logger: logger)
            var tenants: [String] = []
            for try await tenant in rows.decode(String.self) { tenants.append(tenant) }
            #expect(tenants == ["globex"], "the other tenant's key is untouched")

            // After compaction the topic holds no wrapped copy of acme's key: a process with every KEK, started from
            // the table and the compacted topic, cannot decrypt acme's secret; globex's still decrypts.
            let compacted = Issue.compacted(try await issue.records())
            let kept = try compacted.map { try EventCatalog.sigil.decode(try CloudEvent(kafkaMessage: $0)) }
            #expect(!kept.contains { ($0 as? TenantKeyRotated)?.keyID == acme.keyID })
            #expect(kept.contains { ($0 as? TenantKeyDestroyed)?.keyID == acme.keyID })
            let fresh = TenantKeyring(kek: Self.kek2, previous: Self.kek1)
            var freshProjection = issue.projection(fresh)
            let freshKeys = TenantStoredSigningKeys()
            freshProjection.stored = freshKeys
            try await freshProjection.start(logger: logger)
            // The RS256 keys' records stay on the topic, unreadable without their data key.
            try await issue.apply(compacted, to: freshProjection)
            #expect(throws: SigilCryptoError.self) { try fresh.decrypt(acmeSecret, tenant: "acme", field: "f") }
            #expect(freshKeys.keys(tenant: "acme", periods: Int64.min...Int64.max).isEmpty, "no RS256 key survives")
            let signingRecords = compacted.filter {
                String(decoding: $0.key ?? [], as: UTF8.self).contains("/signing-key/")
            }
            #expect(signingRecords.count == 2)
            for record in signingRecords {
                let event = try #require(
                    try EventCatalog.sigil.decode(try CloudEvent(kafkaMessage: record)) as? TenantSigningKeyCreated)
                #expect(throws: (any Error).self) {
                    try TenantStoredSigningKeys.opened(event, keyring: fresh, tenant: "acme")
                }
            }
            #expect(try fresh.decrypt(globexSecret, tenant: "globex", field: "f") == Array("sk_live_globex".utf8))
        }
    }
}
