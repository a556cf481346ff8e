import Logging
import SigilEvents
import SigilKafka

/// Reads every record of Sigil's topics, from the beginning to the current end.
enum TopicScan {
    static func all(brokers: String, topics: SigilTopics = SigilTopics()) async throws -> [KafkaConsumerMessage] {
        let logger = Logger(label: "e2e.scan")
        let client = KafkaClientConfiguration(bootstrapServers: brokers, clientID: "e2e-scan")
        let admin = try KafkaAdmin(configuration: client, logger: logger)
        let metadata = try await admin.metadata()
        var positions: [KafkaTopicPartitionOffset] = []
        var expected = 0
        for topic in SigilTopic.allCases.map(topics.name) {
            for partition in 0..<(metadata.topic(topic)?.partitions ?? 0) {
                let end = try await admin.highWatermark(topic: topic, partition: partition)
                if end > 0 {
                    positions.append(.init(topic: topic, partition: partition, offset: .beginning))
                    expected += Int(end)
                }
            }
        }
        guard !positions.isEmpty else { return [] }
        var configuration = KafkaConsumerConfiguration(client: client, mode: .assign(positions))
        configuration.fetchWaitMaxMilliseconds = 5
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var messages: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while messages.count < expected, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch() {
            messages += batch
        }
        await consumer.close()
        return messages
    }
}
