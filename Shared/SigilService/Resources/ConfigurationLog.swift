import SigilEvents
import SigilKafka

/// Where admitted configuration changes are appended: `sigil.config`, read back by every service's projection.
public protocol ConfigurationLog: Sendable {
    /// Returns once the log holds every event durably; throws if any could not be written (others may have been).
    func append(contentsOf events: [CloudEvent]) async throws
}

/// The configuration topic, through the service's producer (each event acknowledged by the broker before returning).
struct KafkaConfigurationLog: ConfigurationLog {
    let producer: KafkaProducer
    let topic: String

    func append(contentsOf events: [CloudEvent]) async throws {
        // All in flight at once; each awaited, as they go to different partitions (keyed per resource).
        try await withThrowingTaskGroup(of: Void.self) { group in
            for event in events {
                let message = event.kafkaMessage(topic: topic)
                group.addTask { _ = try await producer.sendAndAwait(message) }
            }
            try await group.waitForAll()
        }
    }
}
