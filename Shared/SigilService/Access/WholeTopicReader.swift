import ServiceLifecycle
import SigilEvents
import SigilKafka

/// Every partition of one topic, read by this process alone (assign mode, no consumer group): what each replica reads
/// whole — the configuration at an edge, posture reports in the policy service — from the beginning, or from where
/// the topic ended when reading began.
public struct WholeTopicReader: Sendable {
    public enum Start: Sendable { case beginning, end }

    public let consumer: KafkaConsumer
    /// Where each partition that held records ended when reading began.
    public let ends: [Int32: Int64]

    public init(
        _ context: ServiceContext, topic: SigilTopic, client: String, from start: Start, maximumBatchSize: Int? = nil
    ) async throws {
        let name = context.topics.name(topic)
        let metadata = try await context.admin.metadata()
        var ends: [Int32: Int64] = [:]
        var partitions: [KafkaTopicPartitionOffset] = []
        let watermarks = try await context.admin.watermarks(
            topic: name, partitions: metadata.topic(name)?.partitions ?? 1)
        for (partition, (first, end)) in zip(Int32(0)..., watermarks) {
            if end > first { ends[partition] = end }
            partitions.append(
                KafkaTopicPartitionOffset(
                    topic: name, partition: partition, offset: .exactly(start == .beginning ? first : end)))
        }
        var configuration = KafkaConsumerConfiguration(
            client: context.configuration.kafkaClient(client), mode: .assign(partitions))
        configuration.fetchWaitMaxMilliseconds = context.configuration.kafkaFetchWaitMaxMilliseconds
        if let maximumBatchSize { configuration.maximumBatchSize = maximumBatchSize }
        consumer = try KafkaConsumer(configuration: configuration, logger: context.logger)
        self.ends = ends
    }

    /// Runs `handle` on each batch until shutdown, then closes the consumer.
    public func run(_ handle: ([KafkaConsumerMessage]) async throws -> Void) async throws {
        try await run(prepare: { _ in }) { batch, _ in try await handle(batch) }
    }

    /// Runs `prepare` on each batch while the previous one is in `apply` (see `ConsumerBatch.pipeline`), until
    /// shutdown, then closes the consumer.
    public func run<Prepared: Sendable>(
        prepare: @escaping @Sendable ([KafkaConsumerMessage]) async -> Prepared,
        apply: ([KafkaConsumerMessage], Prepared) async throws -> Void
    ) async throws {
        do {
            try await withGracefulShutdownHandler {
                try await ConsumerBatch.pipeline(consumer, prepare: prepare, apply: apply)
            } onGracefulShutdown: {
                consumer.stop()
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }
}

/// Tells when a reader from the beginning has read what the topic held when it began (`ends`): then the process is
/// ready to act on what it read.
public struct CatchUp: Sendable {
    private var behind: [Int32: Int64]

    public init(_ ends: [Int32: Int64]) { behind = ends }

    /// Whether everything written before reading began has been read.
    public var isDone: Bool { behind.isEmpty }

    /// Notes a message read; true once, for the message that completes the catch-up.
    public mutating func passed(_ message: KafkaConsumerMessage) -> Bool {
        guard let end = behind[message.partition], message.offset + 1 >= end else { return false }
        behind[message.partition] = nil
        return behind.isEmpty
    }
}
