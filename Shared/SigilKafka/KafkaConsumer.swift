import Dispatch
import Logging
import Metrics

/// Reads records through librdkafka, in group mode (partitions shared among the group's members, offsets committed
/// for records marked processed) or assign mode (explicit partitions from explicit offsets, nothing committed).
///
/// Records arrive through `messages`, an `AsyncSequence` that polls on this consumer's own dispatch queue only when
/// the reader asks for more, so a slow reader is never flooded. Transient errors (a broker going away) are logged
/// and counted while librdkafka reconnects; a fatal client error ends the sequence by throwing.
public final class KafkaConsumer: Sendable {
    private let client: RdKafkaClient
    private let configuration: KafkaConsumerConfiguration
    private let pollQueue = DispatchQueue(label: "sigil.kafka.consumer.poll")
    private let closed = AtomicFlag()
    private let handleClosed = AtomicFlag()
    private let errors: Counter

    public init(configuration: KafkaConsumerConfiguration, logger: Logger) throws(KafkaError) {
        self.configuration = configuration
        self.client = try RdKafkaClient(kind: .consumer, properties: configuration.properties, logger: logger)
        self.errors = Counter(label: "sigil.kafka.consumer.errors")
        switch configuration.mode {
        case .group(_, let topics):
            try client.subscribe(topics: topics)
        case .assign(let partitions):
            try client.assign(partitions)
        }
    }

    deinit {
        closed.set()
    }

    /// The records, in order per partition. Ends (returns `nil`) after `close()`.
    public var messages: KafkaConsumerMessages { KafkaConsumerMessages(consumer: self) }

    /// Replaces the assignment (assign mode), e.g. to seek back to stored offsets after a failed batch.
    public func assign(_ partitions: [KafkaTopicPartitionOffset]) async throws(KafkaError) {
        let client = self.client
        try await pollQueue.performBlocking { () throws(KafkaError) in try client.assign(partitions) }
    }

    /// The partitions this consumer reads now (in group mode, what the last rebalance gave it).
    public func assignment() throws(KafkaError) -> [KafkaTopicPartitionOffset] {
        try client.assignment()
    }

    /// Group mode: the record is processed; its offset is committed with the next automatic commit.
    public func markProcessed(_ message: KafkaConsumerMessage) throws(KafkaError) {
        try client.storeOffsets([
            KafkaTopicPartitionOffset(
                topic: message.topic, partition: message.partition, offset: .exactly(message.offset + 1))
        ])
    }

    /// Ends `messages` and `nextBatch` (within one poll interval) without waiting; call `close()` afterwards.
    public func stop() {
        closed.set()
    }

    /// Leaves the group (committing processed offsets) and ends `messages`.
    public func close() async {
        closed.set()
        guard !handleClosed.testAndSet() else { return }
        let client = self.client
        _ = try? await pollQueue.performBlocking { () throws(KafkaError) in client.closeConsumer() }
    }

    /// Waits for at least one record (or close/cancellation), then takes whatever else is ready, up to the batch
    /// size: the unit a projection applies in one transaction. `nil` means the consumer is closed or the task was
    /// cancelled.
    public func nextBatch() async throws(KafkaError) -> [KafkaConsumerMessage]? {
        let stop = AtomicFlag()
        let client = self.client
        let closed = self.closed
        let errors = self.errors
        let maximum = configuration.maximumBatchSize
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation {
                (continuation: CheckedContinuation<Result<[KafkaConsumerMessage]?, KafkaError>, Never>) in
                pollQueue.async {
                    var batch: [KafkaConsumerMessage] = []
                    while batch.isEmpty {
                        if closed.isSet || stop.isSet {
                            continuation.resume(returning: .success(nil))
                            return
                        }
                        switch client.consumerPoll(timeoutMilliseconds: 100) {
                        case .message(let message):
                            batch.append(message)
                        case .error(let error):
                            if let fatal = client.fatalError() {
                                continuation.resume(returning: .failure(fatal))
                                return
                            }
                            errors.increment()
                            client.logger.warning("consumer error; retrying", metadata: ["error": "\(error)"])
                        case .nothing:
                            continue
                        }
                    }
                    while batch.count < maximum,
                        case .message(let message) = client.consumerPoll(timeoutMilliseconds: 0)
                    {
                        batch.append(message)
                    }
                    continuation.resume(returning: .success(batch))
                }
            }
        } onCancel: {
            stop.set()
        }
        return try result.get()
    }
}

/// The records of a `KafkaConsumer`.
public struct KafkaConsumerMessages: AsyncSequence, Sendable {
    public typealias Element = KafkaConsumerMessage
    let consumer: KafkaConsumer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let consumer: KafkaConsumer
        var buffered: [KafkaConsumerMessage] = []
        var index = 0

        public mutating func next() async throws -> KafkaConsumerMessage? {
            if index == buffered.count {
                guard let batch = try await consumer.nextBatch() else { return nil }
                buffered = batch
                index = 0
            }
            defer { index += 1 }
            return buffered[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(consumer: consumer) }
}
