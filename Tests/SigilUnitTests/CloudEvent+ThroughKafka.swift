import SigilEvents
import SigilKafka

extension CloudEvent {
    /// The event as a consumer reads it from the record a producer wrote.
    static func throughKafka(_ event: CloudEvent) throws -> CloudEvent {
        let produced = event.kafkaMessage(topic: "t")
        return try CloudEvent(
            kafkaMessage: KafkaConsumerMessage(
                topic: "t", partition: 0, offset: 1, key: produced.key, value: produced.value,
                headers: produced.headers, timestampMilliseconds: nil))
    }
}
