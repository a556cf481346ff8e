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
