import CRdKafka

/// An error from the Kafka client: a stable code (librdkafka's error name, e.g. `_MSG_TIMED_OUT`) and a human
/// description. Descriptions never carry message payloads.
public struct KafkaError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A librdkafka error code. Negative values are client-side errors, positive values come from the broker.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let rawValue: Int32

        public init(rawValue: Int32) { self.rawValue = rawValue }

        init(_ err: rd_kafka_resp_err_t) { self.rawValue = err.rawValue }

        /// librdkafka's symbolic name, e.g. `_MSG_TIMED_OUT` or `UNKNOWN_TOPIC_OR_PART`.
        public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }
        public var description: String { name }

        public static let messageTimedOut = Code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        public static let timedOut = Code(RD_KAFKA_RESP_ERR__TIMED_OUT)
        public static let transport = Code(RD_KAFKA_RESP_ERR__TRANSPORT)
        public static let allBrokersDown = Code(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        public static let unknownTopicOrPartition = Code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        public static let unknownPartition = Code(RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION)
        public static let queueFull = Code(RD_KAFKA_RESP_ERR__QUEUE_FULL)
        public static let topicAlreadyExists = Code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        public static let fatal = Code(RD_KAFKA_RESP_ERR__FATAL)
        public static let destroyed = Code(RD_KAFKA_RESP_ERR__DESTROY)
        /// Not a librdkafka code: Sigil's own for invalid client configuration.
        public static let invalidConfiguration = Code(RD_KAFKA_RESP_ERR__INVALID_ARG)
    }

    public let code: Code
    /// What was being done, e.g. "produce to sigil.config".
    public let operation: String
    /// librdkafka's description of the error, or Sigil's.
    public let reason: String

    public init(code: Code, operation: String, reason: String? = nil) {
        self.code = code
        self.operation = operation
        self.reason = reason ?? String(cString: rd_kafka_err2str(rd_kafka_resp_err_t(rawValue: code.rawValue)))
    }

    init(_ err: rd_kafka_resp_err_t, operation: String) {
        self.init(code: Code(err), operation: operation)
    }

    public var description: String { "Kafka \(operation) failed: \(code.name): \(reason)" }

    /// Whether retrying later may succeed (broker down, timeout, full queue) as opposed to a permanent refusal.
    public var isRetriable: Bool {
        [.messageTimedOut, .timedOut, .transport, .allBrokersDown, .queueFull].contains(code)
    }
}
