import SigilEvents
import SigilKafka

/// Where admitted configuration changes are appended: `sigil.config`, read back by every service's projection.
public protocol ConfigurationLog: Sendable {
    /// Returns once the log holds the event durably.
    func append(_ event: CloudEvent) async throws
}

/// The configuration topic, through the service's producer (acknowledged by the broker before returning).
struct KafkaConfigurationLog: ConfigurationLog {
    let producer: KafkaProducer
    let topic: String

    func append(_ event: CloudEvent) async throws {
        _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
    }
}
