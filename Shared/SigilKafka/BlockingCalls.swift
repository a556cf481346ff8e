import Dispatch

extension DispatchQueue {
    /// Runs a blocking librdkafka call on this (dedicated, non-cooperative) queue and awaits its result, so a
    /// multi-second poll or flush never occupies one of Swift's cooperative threads.
    func performBlocking<Result: Sendable>(
        _ body: @escaping @Sendable () throws(KafkaError) -> Result
    ) async throws(KafkaError) -> Result {
        let outcome: Swift.Result<Result, KafkaError> = await withCheckedContinuation { continuation in
            self.async {
                do throws(KafkaError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        return try outcome.get()
    }
}
