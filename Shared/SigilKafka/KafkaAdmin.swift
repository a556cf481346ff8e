import Dispatch
import Logging
import Synchronization

/// Cluster administration: metadata, and creating the topics a service needs when they are absent.
public final class KafkaAdmin: Sendable {
    private let client: RdKafkaClient
    private let configuration: KafkaClientConfiguration
    private let queue = DispatchQueue(label: "sigil.kafka.admin")
    /// DescribeConfigs waits out its timeout on brokers that never answer it (librdkafka's mock): on a queue of its
    /// own, so metadata and watermark lookups are not held up behind it.
    private let describeQueue = DispatchQueue(label: "sigil.kafka.admin.describe")
    private let logger: Logger

    public init(configuration: KafkaClientConfiguration, logger: Logger) throws(KafkaError) {
        self.configuration = configuration
        self.logger = logger
        self.client = try RdKafkaClient(kind: .producer, properties: configuration.properties, logger: logger)
    }

    /// Brokers and topics as the cluster reports them. Throws when no broker answers within the timeout (by
    /// default the configured request timeout).
    public func metadata(timeoutMilliseconds: Int? = nil) async throws(KafkaError) -> KafkaClusterMetadata {
        let client = self.client
        let timeout = Int32(timeoutMilliseconds ?? configuration.requestTimeoutMilliseconds)
        return try await queue.performBlocking { () throws(KafkaError) in
            try client.metadata(timeoutMilliseconds: timeout)
        }
    }

    /// Each topic's configuration as the brokers report it (`cleanup.policy`, `retention.ms`, `min.insync.replicas`,
    /// ...). Throws when the brokers cannot describe configurations (librdkafka's mock cluster cannot).
    public func topicConfigs(
        _ names: [String], timeoutMilliseconds: Int? = nil
    ) async throws(KafkaError) -> [String: [String: String]] {
        let client = self.client
        let timeout = Int32(timeoutMilliseconds ?? configuration.requestTimeoutMilliseconds)
        return try await describeQueue.performBlocking { () throws(KafkaError) in
            try client.describeTopicConfigs(names, timeoutMilliseconds: timeout)
        }
    }

    /// The offset the next record of this partition will get: where a reader that wants only new records starts.
    public func highWatermark(topic: String, partition: Int32) async throws(KafkaError) -> Int64 {
        try await watermarks(topic: topic, partition: partition).high
    }

    /// `watermarks(topic:partition:)` for every partition of a topic at once: the lookups go out together (each is a
    /// round trip to its partition's leader), which a reader of a whole topic waits for before its first record.
    public func watermarks(
        topic: String, partitions: Int32
    ) async throws(KafkaError) -> [(low: Int64, high: Int64)] {
        let client = self.client
        let timeout = Int32(configuration.requestTimeoutMilliseconds)
        return try await queue.performBlocking { () throws(KafkaError) in
            let results = Mutex([Int32: Result<(low: Int64, high: Int64), KafkaError>]())
            DispatchQueue.concurrentPerform(iterations: Int(partitions)) { index in
                let partition = Int32(index)
                let result = Result { () throws(KafkaError) in
                    try client.watermarks(topic: topic, partition: partition, timeoutMilliseconds: timeout)
                }
                results.withLock { $0[partition] = result }
            }
            let collected = results.withLock { $0 }
            return try (0..<partitions).map { partition throws(KafkaError) in try collected[partition]!.get() }
        }
    }

    /// The partition's first offset still held and the offset after its last record. Reading "from the beginning"
    /// starts at `low` as an exact offset: librdkafka resolves a logical `.beginning` with an offset query that, sent
    /// before the partition's leader is known, is retried only after a fixed 500 ms.
    public func watermarks(topic: String, partition: Int32) async throws(KafkaError) -> (low: Int64, high: Int64) {
        let client = self.client
        let timeout = Int32(configuration.requestTimeoutMilliseconds)
        return try await queue.performBlocking { () throws(KafkaError) in
            try client.watermarks(topic: topic, partition: partition, timeoutMilliseconds: timeout)
        }
    }

    /// Creates the topics that do not exist yet and returns their names. A topic that exists with fewer partitions
    /// than asked is left alone (and logged): partitions are never changed behind an operator's back.
    ///
    /// Brokers that never answer CreateTopics (librdkafka's mock cluster) are tolerated: after the timeout the
    /// topics are looked up again, and those still missing are reported as a warning, not an error, because such a
    /// broker creates topics on first use.
    @discardableResult
    public func ensureTopics(_ specifications: [KafkaTopicSpecification]) async throws(KafkaError) -> [String] {
        let existing = try await metadata()
        for specification in specifications {
            if let topic = existing.topic(specification.name), topic.partitions < specification.partitions {
                logger.warning(
                    "topic has fewer partitions than configured",
                    metadata: [
                        "kafka.topic": "\(specification.name)", "partitions": "\(topic.partitions)",
                        "configured": "\(specification.partitions)",
                    ]
                )
            }
        }
        let missing = specifications.filter { existing.topic($0.name) == nil }
        guard !missing.isEmpty else { return [] }

        let client = self.client
        let timeout = Int32(configuration.requestTimeoutMilliseconds)
        do throws(KafkaError) {
            let outcome = try await queue.performBlocking { () throws(KafkaError) in
                try client.createTopics(missing, timeoutMilliseconds: timeout)
            }
            var created: [String] = []
            for (name, error) in outcome.sorted(by: { $0.key < $1.key }) {
                switch error {
                case nil:
                    created.append(name)
                case .some(let error) where error.code == .topicAlreadyExists:
                    continue
                case .some(let error):
                    throw error
                }
            }
            logger.info("created topics", metadata: ["kafka.topics": "\(created.joined(separator: ","))"])
            return created
        } catch  where error.code == .timedOut {
            let after = try await metadata()
            let stillMissing = missing.filter { after.topic($0.name) == nil }.map(\.name)
            if !stillMissing.isEmpty {
                logger.warning(
                    "broker did not answer CreateTopics; topics will be created on first use",
                    metadata: ["kafka.topics": "\(stillMissing.joined(separator: ","))"]
                )
            }
            return []
        }
    }
}
