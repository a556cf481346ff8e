import Logging
import Metrics
import SigilEvents
import SigilKafka

/// Writes a record some consumer could not process to the dead-letter topic, with the error and the original
/// headers, key and value, and waits for the broker's acknowledgement (so a skipped record is never lost).
public struct DeadLetterWriter: Sendable {
    let producer: KafkaProducer
    let topic: String
    let source: EventSource
    /// Who gave up on the record, e.g. `policy/resources`.
    let consumer: String
    /// Signs the dead letter as the service's role (the services always do; tests of the runner may not).
    let sign: (@Sendable (CloudEvent) throws -> CloudEvent)?

    public init(
        producer: KafkaProducer, topic: String, source: EventSource, consumer: String,
        sign: (@Sendable (CloudEvent) throws -> CloudEvent)? = nil
    ) {
        self.producer = producer
        self.topic = topic
        self.source = source
        self.consumer = consumer
        self.sign = sign
    }

    public func write(_ message: KafkaConsumerMessage, code: String, detail: String, logger: Logger) async throws {
        let tenant = message.header(CloudEvent.Header.tenant)?.stringValue ?? "unknown"
        let payload = EventDeadLettered(consumer: consumer, message: message, errorCode: code, errorDetail: detail)
        var event = try payload.cloudEvent(
            source: source,
            tenant: tenant,
            partitionKey: message.key.flatMap { String(validating: $0, as: UTF8.self) } ?? tenant,
            subject: "\(message.topic)/\(message.partition)/\(message.offset)"
        )
        if let sign { event = try sign(event) }
        _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
        Counter(label: "sigil.events.deadlettered", dimensions: [("consumer", consumer), ("reason", code)]).increment()
        logger.warning(
            "event dead-lettered",
            metadata: [
                "kafka.topic": "\(message.topic)", "kafka.partition": "\(message.partition)",
                "kafka.offset": "\(message.offset)", "reason": "\(code)",
            ]
        )
    }
}
