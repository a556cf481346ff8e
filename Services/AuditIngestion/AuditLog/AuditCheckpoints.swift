import Foundation
import Logging
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilService

/// Signs the audit chains' heads and ships them to `sigil.audit.checkpoints` (one event per chain, keyed by the
/// chain, so compaction keeps every chain's latest head forever) every `eventInterval` records or `interval`, whichever
/// comes first, when a chain moved. The audit projection records these events like any other, so every log stream
/// delivers them too. The heads are read as committed; with several replicas each ships them (compaction keeps the
/// latest per chain; a repeat is harmless).
final class AuditCheckpointer: Service, Sendable {
    let heads: @Sendable () async throws -> [AuditChainID: AuditChainHead]
    let recorded: @Sendable () -> Int
    let context: ServiceContext
    let interval: Duration
    let eventInterval: Int

    init(
        context: ServiceContext, interval: Duration, eventInterval: Int,
        heads: @escaping @Sendable () async throws -> [AuditChainID: AuditChainHead],
        recorded: @escaping @Sendable () -> Int
    ) {
        self.context = context
        self.interval = interval
        self.eventInterval = eventInterval
        self.heads = heads
        self.recorded = recorded
    }

    func run() async throws {
        var shipped: [AuditChainID: AuditChainHead] = [:]
        var lastShipped = ContinuousClock.now
        var recordedAtLastShip = recorded()
        while !Task.isShuttingDownGracefully {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(200)) }
            let due = ContinuousClock.now - lastShipped >= interval || recorded() - recordedAtLastShip >= eventInterval
            guard due, !Task.isShuttingDownGracefully else { continue }
            let checkpointsTopic = context.topics.name(.auditCheckpoints)
            lastShipped = ContinuousClock.now
            recordedAtLastShip = recorded()
            do {
                let moved = try await heads().filter {
                    $0.key.topic != checkpointsTopic && shipped[$0.key] != $0.value
                }
                try await ship(moved)
                shipped.merge(moved) { _, new in new }
            } catch {
                context.logger.error("audit checkpoint not shipped; retrying", metadata: ["error": "\(error)"])
            }
        }
    }

    private func ship(_ moved: [AuditChainID: AuditChainHead]) async throws {
        guard let signer = context.authentication?.signer else { return }
        for (chain, head) in moved.sorted(by: { $0.key < $1.key }) {
            let heads = [
                AuditCheckpointed.Head(
                    topic: chain.topic, partition: chain.partition, sequence: head.sequence, hash: head.hash.hex)
            ]
            let payload = AuditCheckpointed(
                tenant: chain.tenant, heads: heads,
                signature: try signer.signature(
                    over: AuditCheckpointed.signedBytes(tenant: chain.tenant, heads: heads)))
            let event = try signer.sign(
                try payload.cloudEvent(
                    source: context.source, tenant: chain.tenant, partitionKey: chain.description,
                    subject: chain.description))
            // Not awaited: with the broker gone, an awaited send would hold the service's shutdown for the
            // producer's message timeout. A checkpoint lost so is followed by the next one when the chain moves.
            try context.producer.send(event.kafkaMessage(topic: context.topics.name(.auditCheckpoints)))
        }
        if !moved.isEmpty {
            context.logger.debug("audit checkpoints shipped", metadata: ["chains": "\(moved.count)"])
        }
    }
}

/// Checkpoints as `sigil audit verify --against` gives them: each must carry a valid audit-role signature.
enum AuditCheckpoints {
    /// The checkpoints whose signature holds; throws naming the first that does not (a forged checkpoint must not
    /// make a good log look broken, nor pass silently).
    static func verified(
        _ checkpoints: [AuditCheckpointed], tenant: String, verifier: EventVerifier?
    ) throws
        -> [AuditCheckpointed]
    {
        guard let verifier else {
            throw ProblemDetails(
                status: .serviceUnavailable, slug: "no-trust-bundle", title: "No trust bundle",
                detail: "this service has no trust bundle to check checkpoint signatures with")
        }
        for (index, checkpoint) in checkpoints.enumerated() where checkpoint.tenant == tenant {
            let bytes = AuditCheckpointed.signedBytes(tenant: checkpoint.tenant, heads: checkpoint.heads)
            guard verifier.isValid(signature: checkpoint.signature, over: bytes, role: .audit) else {
                throw ProblemDetails.invalidField(
                    "checkpoints[\(index)].signature",
                    "checkpoint \(index) is not signed by an audit key of the trust bundle")
            }
        }
        return checkpoints.filter { $0.tenant == tenant }
    }

    /// Every checkpoint of the tenant on `sigil.audit.checkpoints`, read from the beginning to where the topic ends
    /// now; records that are not authentic audit checkpoints are skipped.
    static func read(tenant: String, context: ServiceContext) async throws -> [AuditCheckpointed] {
        let topic = context.topics.name(.auditCheckpoints)
        let metadata = try await context.admin.metadata()
        var ends: [Int32: Int64] = [:]
        for partition in 0..<(metadata.topic(topic)?.partitions ?? 0) {
            let end = try await context.admin.highWatermark(topic: topic, partition: partition)
            if end > 0 { ends[partition] = end }
        }
        guard !ends.isEmpty else { return [] }
        var configuration = KafkaConsumerConfiguration(
            client: context.configuration.kafkaClient("sigil-audit-verify"),
            mode: .assign(ends.keys.map { .init(topic: topic, partition: $0, offset: .beginning) }))
        configuration.fetchWaitMaxMilliseconds = context.configuration.kafkaFetchWaitMaxMilliseconds
        let consumer = try KafkaConsumer(configuration: configuration, logger: context.logger)
        var checkpoints: [AuditCheckpointed] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while !ends.isEmpty, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch() {
            for message in batch {
                if let end = ends[message.partition], message.offset + 1 >= end { ends[message.partition] = nil }
                guard let event = try? CloudEvent(kafkaMessage: message), event.tenant == tenant,
                    let payload = try? EventCatalog.sigil.decode(event) as? AuditCheckpointed,
                    context.isAuthentic(event, payload)
                else { continue }
                checkpoints.append(payload)
            }
        }
        await consumer.close()
        return checkpoints
    }
}
