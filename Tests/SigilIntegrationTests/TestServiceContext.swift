import Logging
import PostgresNIO
import SigilEvents
import SigilKafka

@testable import SigilService

/// A service's context for an integration test: its configuration, publishing to a Kafka mock cluster made here (with
/// `topics` created), the test's PostgreSQL client if any, an empty resource store, no signing key.
enum TestServiceContext {
    static func make(
        _ definition: SigilServiceDefinition, source: EventSource, postgres: PostgresClient?, topics: [SigilTopic],
        logger: Logger
    ) async throws -> (cluster: KafkaMockCluster, context: ServiceContext) {
        let cluster = try KafkaMockCluster(logger: logger)
        let configuration = try await ServiceConfiguration.load(
            service: definition, environment: ["SIGIL_TOPIC_REPLICATION": "1"])
        for topic in topics { try cluster.createTopic(configuration.topics.specification(topic)) }
        let context = ServiceContext(
            configuration: configuration, source: source,
            producer: try KafkaProducer(
                configuration: .init(
                    client: .init(bootstrapServers: cluster.bootstrapServers, clientID: source.service)),
                logger: logger),
            admin: try KafkaAdmin(
                configuration: .init(bootstrapServers: cluster.bootstrapServers, clientID: "admin"), logger: logger),
            postgres: postgres, tokens: AdminTokenStore(), readiness: Readiness(checks: []),
            resources: ResourceStore(), logger: logger)
        return (cluster, context)
    }
}
