import CRdKafka
import Logging

/// librdkafka's mock cluster hosted in this process: a real Kafka wire-protocol broker set on loopback, in memory,
/// that clients in any process reach at `bootstrapServers`. Used by `sigil dev broker` and the integration tests.
///
/// Facts about Debian's librdkafka 2.0.2 this type works around: the mock cluster never answers CreateTopics and
/// auto-creates unknown topics with 4 partitions, so the host creates Sigil's topics itself with `createTopic`.
public final class KafkaMockCluster: @unchecked Sendable {
    private let host: RdKafkaClient
    private let cluster: OpaquePointer
    /// Comma-separated `127.0.0.1:port` list of the brokers.
    public let bootstrapServers: String
    /// Broker ids, 1 through the broker count.
    public let brokerIDs: [Int32]

    public init(brokers: Int = 1, logger: Logger) throws(KafkaError) {
        precondition(brokers >= 1, "a cluster needs a broker")
        // The mock cluster lives inside a client instance; this one only hosts it.
        host = try RdKafkaClient(
            kind: .producer, properties: ["client.id": "sigil-mock-cluster", "log_level": "3"], logger: logger)
        guard let cluster = rd_kafka_mock_cluster_new(host.handle, Int32(brokers)) else {
            throw KafkaError(code: .invalidConfiguration, operation: "start mock cluster", reason: "librdkafka refused")
        }
        self.cluster = cluster
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerIDs = (1...Int32(brokers)).map { $0 }
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
    }

    /// Creates a topic with exactly this many partitions (replication is capped at the broker count).
    public func createTopic(_ specification: KafkaTopicSpecification) throws(KafkaError) {
        let replication = min(specification.replicationFactor, Int32(brokerIDs.count))
        let err = rd_kafka_mock_topic_create(cluster, specification.name, specification.partitions, replication)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(err, operation: "create mock topic \(specification.name)")
        }
    }

    /// Takes a broker down: its connections close and it refuses new ones, as if the process died.
    public func setBrokerDown(_ id: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_down(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "take broker \(id) down") }
    }

    /// Brings a broker back up.
    public func setBrokerUp(_ id: Int32) throws(KafkaError) {
        let err = rd_kafka_mock_broker_set_up(cluster, id)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, operation: "bring broker \(id) up") }
    }
}
