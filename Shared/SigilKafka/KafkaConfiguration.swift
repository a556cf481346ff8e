/// What every Kafka client needs: where the brokers are and who it is. Turned into librdkafka properties; keys in
/// `additionalProperties` are passed through unchanged (the escape hatch for security settings and tuning).
public struct KafkaClientConfiguration: Sendable {
    /// Comma-separated `host:port` list (`bootstrap.servers`).
    public var bootstrapServers: String
    /// `client.id`, shown in broker logs and metrics.
    public var clientID: String
    /// Timeout for metadata and admin requests.
    public var requestTimeoutMilliseconds: Int = 10_000
    /// Extra librdkafka properties, e.g. `security.protocol`, `sasl.mechanism`.
    public var additionalProperties: [String: String] = [:]

    public init(bootstrapServers: String, clientID: String) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
    }

    var properties: [String: String] {
        var properties: [String: String] = [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            // Our own polling threads and delivery reports: keep librdkafka's internal logs, routed to swift-log.
            "log.connection.close": "false",
            // Small records on a latency-bound path: no Nagle delay on the broker connections.
            "socket.nagle.disable": "true",
        ]
        properties.merge(additionalProperties) { _, extra in extra }
        return properties
    }
}

public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Exactly-once per partition within a producer session (`enable.idempotence`). On by default.
    public var idempotent: Bool = true
    /// How long librdkafka keeps retrying a record before its delivery report says `_MSG_TIMED_OUT`.
    public var messageTimeoutMilliseconds: Int = 30_000
    /// Batching delay (`linger.ms`): none by default, because the access flow is latency-bound (each hop of a cold
    /// request would wait for it); under load records still batch while a request is in flight.
    public var lingerMilliseconds: Int = 0
    /// How long a graceful shutdown waits for outstanding records.
    public var flushTimeoutMilliseconds: Int = 10_000

    public init(client: KafkaClientConfiguration) {
        self.client = client
    }

    var properties: [String: String] {
        var properties = client.properties
        properties["enable.idempotence"] = idempotent ? "true" : "false"
        properties["acks"] = "all"
        properties["message.timeout.ms"] = String(messageTimeoutMilliseconds)
        properties["linger.ms"] = String(lingerMilliseconds)
        properties.merge(client.additionalProperties) { _, extra in extra }
        return properties
    }
}

public struct KafkaConsumerConfiguration: Sendable {
    public enum Mode: Sendable, Hashable {
        /// Join a consumer group and share the partitions of `topics` with its other members.
        case group(id: String, topics: [String])
        /// Read exactly these partitions from these offsets; no group, no committed offsets.
        case assign([KafkaTopicPartitionOffset])
    }

    public var client: KafkaClientConfiguration
    public var mode: Mode
    /// `fetch.wait.max.ms`: the longest a fetch waits for data. The librdkafka mock broker does not answer a fetch
    /// early when data arrives, so this bounds the produce-to-consume latency there (about this many milliseconds).
    public var fetchWaitMaxMilliseconds: Int = 10
    /// Where a group member starts on a partition with no committed offset.
    public var startFromBeginning: Bool = true
    /// Group mode: `session.timeout.ms`.
    public var sessionTimeoutMilliseconds: Int = 10_000
    /// Records handed to the application per poll at most.
    public var maximumBatchSize: Int = 500

    public init(client: KafkaClientConfiguration, mode: Mode) {
        self.client = client
        self.mode = mode
    }

    var properties: [String: String] {
        var properties = client.properties
        properties["fetch.wait.max.ms"] = String(fetchWaitMaxMilliseconds)
        properties["auto.offset.reset"] = startFromBeginning ? "earliest" : "latest"
        // The application says when a record is processed (`markProcessed`); only those offsets are committed.
        properties["enable.auto.offset.store"] = "false"
        switch mode {
        case .group(let id, _):
            properties["group.id"] = id
            properties["enable.auto.commit"] = "true"
            properties["session.timeout.ms"] = String(sessionTimeoutMilliseconds)
        case .assign:
            // librdkafka needs a group id for any assignment; this consumer never joins the group (no subscribe)
            // and never commits, so the id only has to be set.
            properties["group.id"] = "sigil-assign-\(client.clientID)"
            properties["enable.auto.commit"] = "false"
        }
        properties.merge(client.additionalProperties) { _, extra in extra }
        return properties
    }
}
