import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilProjection
import SigilService
import SigilTestSupport
import Testing

@testable import AuditIngestion

/// What the log-stream tests share: an audit log fed by a running projection, streams, waiting.
extension LogStreamDeliveryTests {
    /// An audit log in a fresh schema, fed from a mock broker by a running projection.
    final class AuditLog: Sendable {
        let cluster: KafkaMockCluster
        let producer: KafkaProducer
        let schema: SchemaName
        let runner: ProjectionRunner
        let postgres: PostgresClient
        let logger: Logger

        init(postgres: PostgresClient, topic: String, logger: Logger) async throws {
            self.postgres = postgres
            self.logger = logger
            cluster = try KafkaMockCluster(logger: logger)
            try cluster.createTopic(.init(name: topic, partitions: 2))
            try cluster.createTopic(.init(name: "deadletter", partitions: 1))
            let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
            producer = try KafkaProducer(configuration: .init(client: client), logger: logger)
            schema = TestPostgres.uniqueSchema("audit")
            try await MigrationRunner(schema: schema, migrations: SigilServiceDefinition.auditIngestion.migrations)
                .apply(on: postgres, logger: logger)
            var configuration = ProjectionRunner.Configuration(
                topics: [topic], kafka: client, deadLetterTopic: "deadletter")
            configuration.fetchWaitMaxMilliseconds = 5
            runner = ProjectionRunner(
                projection: AuditProjection(schema: schema, postgres: postgres), schema: schema,
                configuration: configuration, postgres: postgres, producer: producer,
                admin: try KafkaAdmin(configuration: client, logger: logger),
                source: EventSource(service: "audit", instance: "test"), logger: logger)
        }

        /// Runs the projection and one replica's delivery of `streams` while `body` runs, then stops both.
        func whileDelivering(
            _ streams: [Resource<LogStreamSpec>], environment: LogSenderEnvironment = LogSenderEnvironment(),
            _ body: () async throws -> Void
        ) async throws {
            let index = ResourceIndex<LogStreamSpec>()
            for stream in streams { index.define(stream) }
            let delivery = LogStreamDelivery(
                streams: index, postgres: postgres, schema: schema, owner: "replica-1", environment: environment,
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.runner.run() }
                group.addTask { try await delivery.run() }
                defer { group.cancelAll() }
                try await body()
            }
        }

        /// Publishes `count` TenantCreated events of `tenant`; returns their ids.
        func publishCreated(_ count: Int, tenant: String, topic: String) async throws -> [String] {
            var ids: [String] = []
            for index in 0..<count {
                let event = try TenantCreated(displayName: "\(tenant) \(index)").cloudEvent(
                    source: EventSource(service: "issue", instance: "1"), tenant: tenant, partitionKey: "k\(index)")
                ids.append(event.id)
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            return ids
        }

        /// Publishes `count` events of the tenant, then four of an access flow; returns the first ones' ids. Every
        /// third is a TenantDeleted (filtered out by streams that ask for TenantCreated only).
        func publish(_ count: Int, topic: String) async throws -> (created: [String], deleted: [String]) {
            var created: [String] = []
            var deleted: [String] = []
            for index in 0..<count {
                let source = EventSource(service: "issue", instance: "1")
                let event =
                    index % 3 == 2
                    ? try TenantDeleted().cloudEvent(source: source, tenant: "acme", partitionKey: "k\(index)")
                    : try TenantCreated(displayName: "t \"\(index)\" ] = | \\").cloudEvent(
                        source: source, tenant: "acme", partitionKey: "k\(index)", subject: "s\(index) \"q\" ]x= |y\\")
                if event.type == TenantDeleted.eventType { deleted.append(event.id) } else { created.append(event.id) }
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            // And one access flow's records, for the OCSF classes of attestation and decisions.
            let target = AccessTarget(scheme: "https", host: "api.internal", port: 443)
            let reply = ReplyAddress(edgeID: "edge-1", partition: 0, publicKey: [1, 2, 3])
            let deadline = Deadline(milliseconds: 1_900_000_000_000)
            let reason = RefusalReason(code: "no-matching-policy", detail: "no policy")
            let flow: [(any EventPayload, String)] = [
                (
                    IdentityAttested(
                        requestID: "r", target: target, reply: reply, clientWorkload: "billing",
                        trustProviders: ["cluster"], claims: [:], deadline: deadline), "attest"
                ),
                (AttestationFailed(requestID: "r2", target: target, reason: reason), "attest"),
                (
                    AccessGranted(
                        requestID: "r", target: target, reply: reply, clientWorkload: "billing",
                        serverWorkload: "api", accessPolicy: "p", credentialProvider: "key", ttlSeconds: 300,
                        deadline: deadline), "policy"
                ),
                (AccessDenied(requestID: "r3", target: target, clientWorkload: "billing", reason: reason), "policy"),
            ]
            for (payload, service) in flow {
                let event = try payload.cloudEvent(
                    source: EventSource(service: service, instance: "1"), tenant: "acme", partitionKey: "r")
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            return (created, deleted)
        }
    }

    static func stream(_ name: String, _ spec: LogStreamSpec, tenant: String = "acme") -> Resource<LogStreamSpec> {
        Resource(
            metadata: ResourceMetadata(
                name: name, tenant: tenant, labels: [:], uid: UUID().uuidString, resourceVersion: "1", generation: 1,
                createdAt: Date(), updatedAt: Date(), createdBy: "test"),
            spec: spec)
    }

    static func waitUntil(
        _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }
}
