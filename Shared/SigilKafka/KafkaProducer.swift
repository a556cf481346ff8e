import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// Produces records through librdkafka: idempotent by default, with `send` (fire and forget; failures are logged
/// and counted) and `sendAndAwait` (returns the broker's delivery report or throws a `KafkaError`).
///
/// A dedicated thread serves delivery reports from the moment the producer exists, so `sendAndAwait` works whether
/// or not the producer runs as a `Service`. As a `Service`, `run()` waits for graceful shutdown, then flushes
/// outstanding records and stops the thread.
public final class KafkaProducer: Service, Sendable {
    private let client: RdKafkaClient
    private let configuration: KafkaProducerConfiguration
    private let polling = AtomicFlag(true)
    private let flushQueue = DispatchQueue(label: "sigil.kafka.producer.flush")
    private let topics = Mutex<[String: UnsafeTopic]>([:])
    private let produced: Counter
    private let failed: Counter

    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws(KafkaError) {
        self.configuration = configuration
        self.client = try RdKafkaClient(kind: .producer, properties: configuration.properties, logger: logger)
        self.produced = Counter(label: "sigil.kafka.records.produced")
        self.failed = Counter(label: "sigil.kafka.records.failed")
        let client = self.client
        let polling = self.polling
        let thread = Thread {
            while polling.isSet {
                client.poll(timeoutMilliseconds: 100)
            }
        }
        thread.name = "sigil.kafka.producer.poll"
        thread.start()
    }

    deinit {
        polling.clear()
        topics.withLock { $0.values.forEach { client.releaseTopicHandle($0.pointer) } }
    }

    /// Looks up these topics' metadata now, so the first record to each is not delayed; call at start.
    public func prepare(topics names: [String]) {
        topics.withLock { topics in
            for name in names where topics[name] == nil {
                if let topic = client.topicHandle(name) { topics[name] = UnsafeTopic(pointer: topic) }
            }
        }
    }

    /// Enqueues a record without waiting for the broker. Throws only when librdkafka refuses to enqueue it
    /// (e.g. a full local queue); a later delivery failure is logged and counted.
    public func send(_ message: KafkaProducerMessage) throws(KafkaError) {
        do {
            try client.produce(message, promise: nil)
            produced.increment()
        } catch {
            failed.increment()
            throw error
        }
    }

    /// Produces a record and waits for the broker's acknowledgement.
    public func sendAndAwait(_ message: KafkaProducerMessage) async throws(KafkaError) -> KafkaDeliveryReport {
        do {
            let report = try await withCheckedThrowingContinuation { continuation in
                do {
                    try client.produce(message, promise: DeliveryPromise(continuation))
                } catch {
                    continuation.resume(throwing: error)
                }
            }
            produced.increment()
            return report
        } catch let error as KafkaError {
            failed.increment()
            throw error
        } catch {
            failed.increment()
            throw KafkaError(code: .fatal, operation: "produce to \(message.topic)", reason: "\(error)")
        }
    }

    /// Waits until every enqueued record is acknowledged or failed, up to the configured flush timeout.
    public func flush() async throws(KafkaError) {
        let client = self.client
        let timeout = Int32(configuration.flushTimeoutMilliseconds)
        try await flushQueue.performBlocking { () throws(KafkaError) in
            if let error = client.flush(timeoutMilliseconds: timeout) { throw error }
        }
    }

    /// Records enqueued and not yet acknowledged or failed.
    public var outstandingRecords: Int { client.outstandingRecords }

    /// Records whose fire-and-forget delivery failed since start.
    public var undeliveredRecords: Int { client.context.undeliveredRecords.load(ordering: .relaxed) }

    public func run() async throws {
        try? await gracefulShutdown()
        do {
            try await flush()
        } catch {
            client.logger.error(
                "records left undelivered at shutdown",
                metadata: ["outstanding": "\(outstandingRecords)", "error": "\(error)"]
            )
        }
        polling.clear()
    }
}

/// librdkafka topic objects are thread-safe; this only carries the pointer.
struct UnsafeTopic: @unchecked Sendable {
    let pointer: OpaquePointer
}
