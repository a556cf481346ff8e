import Foundation
import SigilEvents
import SigilKafka

/// Everything a Sigil service reads at start. Each field names its variable; the README's table lists them all.
public struct ServiceConfiguration: Sendable {
    /// `SIGIL_INSTANCE_ID`: this replica's name in event sources and client ids (default: host name and pid).
    public var instanceID: String
    /// `SIGIL_KAFKA_BROKERS`: bootstrap servers.
    public var kafkaBrokers: String
    /// `SIGIL_KAFKA_FETCH_WAIT_MAX_MS`: longest fetch wait; bounds latency on the mock broker.
    public var kafkaFetchWaitMaxMilliseconds: Int
    /// `SIGIL_KAFKA_PROPERTIES`: extra librdkafka properties, `key=value` separated by `;`.
    public var kafkaProperties: [String: String]
    /// `SIGIL_TOPIC_PREFIX`, `SIGIL_TOPIC_PARTITIONS` (access topics), `SIGIL_TOPIC_REPLICATION` (3),
    /// `SIGIL_TOPIC_MIN_INSYNC_REPLICAS` (2, at most the replication).
    public var topics: SigilTopics
    /// `SIGIL_POSTGRES_URL`: `postgres://user:password@host:port/database?sslmode=...`.
    public var postgresURL: String?
    /// `SIGIL_HTTP_HOST`, `SIGIL_HTTP_PORT`: the admin, health and metrics listener.
    public var httpHost: String
    public var httpPort: Int
    /// `SIGIL_ADMIN_TOKEN`, `SIGIL_ADMIN_TENANT`: the bootstrap admin token and the tenant it is bound to.
    public var adminToken: String?
    public var adminTenant: String
    /// `SIGIL_AUDITOR_TOKEN`: an optional read-only token for the same tenant.
    public var auditorToken: String?
    /// `SIGIL_LOG_FORMAT` (`console` or `json`), `SIGIL_LOG_LEVEL`.
    public var logFormat: LogFormat
    public var logLevel: String
    /// Where service-specific settings are read from (e.g. `SIGIL_KEK` for `sigil-issue`).
    public var source: ConfigurationSource

    public static func load(
        service: SigilServiceDefinition,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ServiceConfiguration {
        let source = try await ConfigurationSource(environment: environment)
        let accessPartitions = try source.int("SIGIL_TOPIC_PARTITIONS", default: 12, in: 1...10_000)
        var partitions: [SigilTopic: Int32] = [:]
        for topic in SigilTopic.accessTopics {
            partitions[topic] = Int32(accessPartitions)
        }
        let replication = try source.int("SIGIL_TOPIC_REPLICATION", default: 3, in: 1...16)
        let minInSync = try source.int("SIGIL_TOPIC_MIN_INSYNC_REPLICAS", default: min(2, replication), in: 1...16)
        guard minInSync <= replication else {
            throw ConfigurationError(
                key: "SIGIL_TOPIC_MIN_INSYNC_REPLICAS", expected: "at most SIGIL_TOPIC_REPLICATION (\(replication))")
        }
        let adminToken = source.string("SIGIL_ADMIN_TOKEN")
        if let adminToken, adminToken.utf8.count < 24 {
            throw ConfigurationError(key: "SIGIL_ADMIN_TOKEN", expected: "at least 24 characters")
        }
        let auditorToken = source.string("SIGIL_AUDITOR_TOKEN")
        if let auditorToken, auditorToken.utf8.count < 24 {
            throw ConfigurationError(key: "SIGIL_AUDITOR_TOKEN", expected: "at least 24 characters")
        }
        return ServiceConfiguration(
            instanceID: source.string("SIGIL_INSTANCE_ID", default: Self.defaultInstanceID()),
            kafkaBrokers: source.string("SIGIL_KAFKA_BROKERS", default: "127.0.0.1:9092"),
            kafkaFetchWaitMaxMilliseconds: try source.int("SIGIL_KAFKA_FETCH_WAIT_MAX_MS", default: 10, in: 1...5_000),
            kafkaProperties: try Self.properties(source.string("SIGIL_KAFKA_PROPERTIES")),
            topics: SigilTopics(
                prefix: source.string("SIGIL_TOPIC_PREFIX", default: "sigil."),
                partitions: partitions,
                replicationFactor: Int32(replication),
                minInSyncReplicas: Int32(minInSync)
            ),
            postgresURL: source.string("SIGIL_POSTGRES_URL"),
            httpHost: source.string("SIGIL_HTTP_HOST", default: "127.0.0.1"),
            httpPort: try source.int("SIGIL_HTTP_PORT", default: service.defaultPort, in: 0...65_535),
            adminToken: adminToken,
            adminTenant: source.string("SIGIL_ADMIN_TENANT", default: "default"),
            auditorToken: auditorToken,
            logFormat: LogFormat(
                rawValue: try source.oneOf("SIGIL_LOG_FORMAT", ["console", "json"], default: "console"))!,
            logLevel: try source.oneOf(
                "SIGIL_LOG_LEVEL",
                ["trace", "debug", "info", "notice", "warning", "error", "critical"],
                default: "info"
            ),
            source: source
        )
    }

    /// The Kafka client settings for one of this service's clients.
    public func kafkaClient(_ role: String) -> KafkaClientConfiguration {
        var client = KafkaClientConfiguration(bootstrapServers: kafkaBrokers, clientID: "\(role)/\(instanceID)")
        client.additionalProperties = kafkaProperties
        return client
    }

    static func properties(_ text: String?) throws(ConfigurationError) -> [String: String] {
        guard let text else { return [:] }
        var properties: [String: String] = [:]
        for pair in text.split(separator: ";") where !pair.trimmingCharacters(in: .whitespaces).isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, !parts[0].isEmpty else {
                throw ConfigurationError(key: "SIGIL_KAFKA_PROPERTIES", expected: "key=value pairs separated by ';'")
            }
            properties[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return properties
    }

    static func defaultInstanceID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}
