/// One Kafka record header. Kafka allows a header without a value.
public struct KafkaHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    public init(key: String, string: String) {
        self.init(key: key, value: Array(string.utf8))
    }

    /// The value as UTF-8 text, when it is valid UTF-8.
    public var stringValue: String? { value.flatMap { String(validating: $0, as: UTF8.self) } }
}

/// A record to produce. Without a partition, librdkafka's partitioner chooses one from the key.
public struct KafkaProducerMessage: Sendable {
    public var topic: String
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(
        topic: String,
        partition: Int32? = nil,
        key: [UInt8]? = nil,
        value: [UInt8],
        headers: [KafkaHeader] = []
    ) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Where the broker stored a produced record.
public struct KafkaDeliveryReport: Sendable, Hashable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
}

/// A record read by a consumer.
public struct KafkaConsumerMessage: Sendable {
    public let topic: String
    public let partition: Int32
    public let offset: Int64
    public let key: [UInt8]?
    public let value: [UInt8]
    public let headers: [KafkaHeader]
    /// Milliseconds since the epoch (create or log-append time), when the broker gave one.
    public let timestampMilliseconds: Int64?

    public init(
        topic: String,
        partition: Int32,
        offset: Int64,
        key: [UInt8]?,
        value: [UInt8],
        headers: [KafkaHeader],
        timestampMilliseconds: Int64?
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The first header with this key.
    public func header(_ key: String) -> KafkaHeader? { headers.first { $0.key == key } }
}

/// A topic and partition with a position: the offset of the next record to read.
public struct KafkaTopicPartitionOffset: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: KafkaOffset

    public init(topic: String, partition: Int32, offset: KafkaOffset) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }
}

/// A start position for an assigned partition.
public enum KafkaOffset: Sendable, Hashable {
    case beginning
    case end
    case stored
    case exactly(Int64)

    var rawValue: Int64 {
        switch self {
        case .beginning: return -2  // RD_KAFKA_OFFSET_BEGINNING
        case .end: return -1  // RD_KAFKA_OFFSET_END
        case .stored: return -1000  // RD_KAFKA_OFFSET_STORED
        case .exactly(let offset): return offset
        }
    }
}

/// A topic to create: partitions and replication factor are configuration.
public struct KafkaTopicSpecification: Sendable, Hashable {
    public var name: String
    public var partitions: Int32
    public var replicationFactor: Int32
    /// Topic-level settings given at creation (`cleanup.policy`, `retention.ms`, `min.insync.replicas`, ...).
    public var configs: [String: String]

    public init(name: String, partitions: Int32, replicationFactor: Int32 = 1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// What the cluster told us about itself.
public struct KafkaClusterMetadata: Sendable {
    public struct Broker: Sendable, Hashable {
        public let id: Int32
        public let host: String
        public let port: Int32
    }

    public struct Topic: Sendable, Hashable {
        public let name: String
        public let partitions: Int32
        public let errorCode: KafkaError.Code?
        /// The fewest replicas any of its partitions has: the topic's effective replication factor.
        public var replicas: Int32 = 0
    }

    public let brokers: [Broker]
    public let topics: [Topic]

    public func topic(_ name: String) -> Topic? { topics.first { $0.name == name && $0.errorCode == nil } }
}
