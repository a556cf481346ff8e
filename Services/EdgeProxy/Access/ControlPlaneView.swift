import Foundation
import Logging
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilService
import Synchronization

/// What the edge knows of the configuration: its tenant's server workloads and the current attestation key,
/// read from the config topic from the beginning (the edge keeps nothing durable).
final class ControlPlaneView: Service, Sendable {
    struct AttestationKey: Sendable {
        let keyID: String
        let publicKey: [UInt8]
        let notBefore: Date
        let notAfter: Date
    }

    private let context: ServiceContext
    private let tenant: String
    /// Every attestation key published and not expired, by id.
    private let attestationKeys = Mutex<[String: AttestationKey]>([:])
    /// The tenant's server workloads, typed, for the request path.
    let serverWorkloads = ServerWorkloadIndex()

    init(context: ServiceContext, tenant: String) {
        self.context = context
        self.tenant = tenant
        // Not ready until the configuration written before start has been read: until then a server workload
        // would look unmanaged.
        context.readiness.addCondition("configuration")
    }

    /// The key to seal to now: of the keys valid now, the one whose validity began last (keys rotate with overlap).
    var currentAttestationKey: AttestationKey? {
        let now = Date()
        return attestationKeys.withLock { keys in
            keys.values.filter { $0.notBefore <= now && now < $0.notAfter }.max { $0.notBefore < $1.notBefore }
        }
    }

    func run() async throws {
        let configTopic = context.topics.name(.config)
        let metadata = try await context.admin.metadata()
        let partitions = (0..<(metadata.topic(configTopic)?.partitions ?? 1)).map {
            KafkaTopicPartitionOffset(topic: configTopic, partition: $0, offset: .beginning)
        }
        var configuration = KafkaConsumerConfiguration(
            client: context.configuration.kafkaClient("sigil-edge-config"), mode: .assign(partitions))
        configuration.fetchWaitMaxMilliseconds = context.configuration.kafkaFetchWaitMaxMilliseconds
        let consumer = try KafkaConsumer(configuration: configuration, logger: context.logger)
        // Where the topic ended when this edge started: read up to there, it is ready.
        var behind: [Int32: Int64] = [:]
        for position in partitions {
            let end = try await context.admin.highWatermark(topic: configTopic, partition: position.partition)
            if end > 0 { behind[position.partition] = end }
        }
        if behind.isEmpty { context.readiness.satisfy("configuration") }
        try await withGracefulShutdownHandler {
            while let batch = try await consumer.nextBatch() {
                for message in batch {
                    apply(message)
                    if let end = behind[message.partition], message.offset + 1 >= end {
                        behind[message.partition] = nil
                        if behind.isEmpty {
                            context.readiness.satisfy("configuration")
                            context.logger.info(
                                "configuration read", metadata: ["serverWorkloads": "\(serverWorkloads.names.count)"])
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            consumer.stop()
        }
        await consumer.close()
    }

    private func apply(_ message: KafkaConsumerMessage) {
        guard let event = try? CloudEvent(kafkaMessage: message), let payload = try? EventCatalog.sigil.decode(event),
            context.isAuthentic(event, payload)
        else {
            return  // the services with projections dead-letter such records; the edge only skips them
        }
        switch payload {
        case let published as AttestationKeyPublished:
            let now = Date()
            attestationKeys.withLock { keys in
                keys[published.keyID] = AttestationKey(
                    keyID: published.keyID, publicKey: published.publicKey.bytes,
                    notBefore: published.notBefore ?? .distantPast, notAfter: published.notAfter)
                keys = keys.filter { $0.value.notAfter > now }
            }
            context.logger.info("attestation key known", metadata: ["key": "\(published.keyID)"])
        case let defined as ResourceDefined where defined.kind == .serverWorkload && event.tenant == tenant:
            // The rule every consumer shares: a write that lost a race is ignored everywhere.
            guard context.resources.catalog.apply(defined, tenant: tenant) else { return }
            if let workload = ServerWorkloadIndex.serverWorkload(defined) {
                serverWorkloads.define(workload)
            } else {
                serverWorkloads.remove(name: defined.name)
                context.logger.warning("server workload not understood", metadata: ["name": "\(defined.name)"])
            }
        case let removed as ResourceRemoved where removed.kind == .serverWorkload && event.tenant == tenant:
            guard context.resources.catalog.apply(removed, tenant: tenant) else { return }
            serverWorkloads.remove(name: removed.name)
        default:
            return
        }
    }
}
