import Logging
import ServiceLifecycle
import SigilEvents
import SigilKafka
import SigilService
import Synchronization

/// The terminal outcome of one access request, as the edge receives it.
enum AccessReply: Sendable {
    case issued(CredentialIssued)
    case refused(AccessRefused)
}

/// Reads this edge's reply partition of `access.replies` (only that partition, from its end at start) and hands
/// each reply to the request waiting for it; a `LeaseRevoked` there drops the credential of that lease at once (the
/// next connection asks for a new one instead of logging in with a role that is gone).
final class ReplyListener: Service, Sendable {
    private let context: ServiceContext
    private let edge: EdgeConfiguration
    private let waiting = Mutex<[String: AsyncStream<AccessReply?>.Continuation]>([:])
    private let partition = Mutex<Int32?>(nil)
    private let accessChanged: @Sendable (AccessChange) -> Void

    init(
        context: ServiceContext, edge: EdgeConfiguration,
        accessChanged: @escaping @Sendable (AccessChange) -> Void = { _ in }
    ) {
        self.context = context
        self.edge = edge
        self.accessChanged = accessChanged
        context.readiness.addCondition("reply-partition")
    }

    /// The partition replies for this edge go to; known once the listener runs.
    var replyPartition: Int32? { partition.withLock { $0 } }

    /// Waits for the reply to `requestID` until `deadline`, or `nil` then. Registers before publishing the request,
    /// so a fast reply is never missed.
    func reply(
        to requestID: String, by deadline: ContinuousClock.Instant, publish: () throws -> Void
    ) async throws -> AccessReply? {
        let (replies, continuation) = AsyncStream<AccessReply?>.makeStream(bufferingPolicy: .bufferingOldest(1))
        waiting.withLock { $0[requestID] = continuation }
        defer { waiting.withLock { _ = $0.removeValue(forKey: requestID) } }
        try publish()
        let timer = Task {
            try? await Task.sleep(until: deadline, clock: .continuous)
            continuation.yield(nil)
        }
        defer { timer.cancel() }
        for await reply in replies { return reply }
        return nil
    }

    private func resolve(_ requestID: String, with reply: AccessReply) {
        waiting.withLock { $0.removeValue(forKey: requestID) }?.yield(reply)
    }

    func run() async throws {
        let topic = context.topics.name(.accessReplies)
        let partitions = try await context.admin.metadata().topic(topic)?.partitions ?? 1
        let partition = edge.replyPartition(of: partitions)
        let start = try await context.admin.highWatermark(topic: topic, partition: partition)
        var configuration = KafkaConsumerConfiguration(
            client: context.configuration.kafkaClient("sigil-edge-replies"),
            mode: .assign([KafkaTopicPartitionOffset(topic: topic, partition: partition, offset: .exactly(start))])
        )
        configuration.fetchWaitMaxMilliseconds = context.configuration.kafkaFetchWaitMaxMilliseconds
        let consumer = try KafkaConsumer(configuration: configuration, logger: context.logger)
        self.partition.withLock { $0 = partition }
        context.readiness.satisfy("reply-partition")
        context.logger.info(
            "reading replies", metadata: ["kafka.topic": "\(topic)", "kafka.partition": "\(partition)"])
        try await context.publish(
            EdgeStarted(edgeID: edge.edgeID, replyPartition: partition), to: .edgeActivity, tenant: edge.tenant,
            partitionKey: edge.edgeID, subject: edge.edgeID)
        try await withGracefulShutdownHandler {
            while let batch = try await consumer.nextBatch() {
                for message in batch {
                    guard let event = try? CloudEvent(kafkaMessage: message), event.tenant == edge.tenant,
                        let payload = try? EventCatalog.sigil.decode(event), context.isAuthentic(event, payload)
                    else { continue }
                    context.logger.debug(
                        "reply received", metadata: ["kafka.offset": "\(message.offset)", "event": "\(event.type)"])
                    switch payload {
                    case let issued as CredentialIssued: resolve(issued.requestID, with: .issued(issued))
                    case let refused as AccessRefused: resolve(refused.requestID, with: .refused(refused))
                    case let revoked as LeaseRevoked: accessChanged(.lease(revoked.leaseID))
                    default: continue
                    }
                }
            }
        } onGracefulShutdown: {
            consumer.stop()
        }
        await consumer.close()
        // Best effort: the producer is flushed after the workers stop.
        try? context.enqueue(
            EdgeStopped(edgeID: edge.edgeID), to: .edgeActivity, tenant: edge.tenant, partitionKey: edge.edgeID,
            subject: edge.edgeID)
    }
}
