import Foundation

/// Per-record work on a consumed batch, spread over the cores when the batch is large: checking a record's signature
/// costs far more than the rest of its way (an Ed25519 verification is ~100 µs here), so a projection catching up or
/// an edge reading the configuration topic from the start is bound by it. Results come back in the batch's order.
public enum ConsumerBatch {
    /// Below this many records a batch is worked through on the calling task.
    public static let parallelThreshold = 256

    public static func map<Result: Sendable>(
        _ messages: [KafkaConsumerMessage], _ transform: @escaping @Sendable (KafkaConsumerMessage) -> Result
    ) async -> [Result] {
        let chunks = messages.count < parallelThreshold ? 1 : min(ProcessInfo.processInfo.activeProcessorCount, 8)
        guard chunks > 1 else { return messages.map(transform) }
        let size = (messages.count + chunks - 1) / chunks
        return await withTaskGroup(of: (Int, [Result]).self) { group in
            for start in stride(from: 0, to: messages.count, by: size) {
                let slice = messages[start..<min(start + size, messages.count)]
                group.addTask { (start, slice.map(transform)) }
            }
            var parts: [(Int, [Result])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }
}

extension ConsumerBatch {
    /// Consumes until the consumer stops, one batch ahead: the next batch is polled and prepared (decoded,
    /// authenticated: on every core) while the current one is applied, so reading from the broker, checking
    /// signatures and the sequential work (a database transaction, an index update) overlap. On an error the batch
    /// read ahead is dropped unapplied and the consumer stopped; the caller reads again from where it has recorded.
    /// Cancelling the caller stops the consumer.
    public static func pipeline<Prepared: Sendable>(
        _ consumer: KafkaConsumer,
        prepare: @escaping @Sendable ([KafkaConsumerMessage]) async -> Prepared,
        apply: ([KafkaConsumerMessage], Prepared) async throws -> Void
    ) async throws {
        let readAhead = { @Sendable () -> Task<(batch: [KafkaConsumerMessage], prepared: Prepared)?, any Error> in
            Task {
                guard let batch = try await consumer.nextBatch() else { return nil }
                return (batch, await prepare(batch))
            }
        }
        var next = readAhead()
        do {
            // The read-ahead runs in a task of its own, which the caller's cancellation does not reach: stopping the
            // consumer ends its poll.
            try await withTaskCancellationHandler {
                while let current = try await next.value {
                    next = readAhead()
                    try await apply(current.batch, current.prepared)
                }
            } onCancel: {
                consumer.stop()
            }
        } catch {
            consumer.stop()
            _ = try? await next.value
            throw error
        }
    }
}
