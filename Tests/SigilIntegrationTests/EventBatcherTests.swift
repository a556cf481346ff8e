import Foundation
import Logging
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import EdgeProxy
@testable import SigilService

@Suite("Reports produced in batches: signed together, each verifiable alone, none lost")
struct EventBatcherTests {
    let logger = Logger(label: "test.batcher")

    /// An edge's context on a mock cluster, with its signing key; and a verifier that trusts it.
    func edgeContext() async throws -> (KafkaMockCluster, ServiceContext, EventVerifier) {
        let made = try await TestServiceContext.make(
            .edgeProxy, source: EventSource(service: "edge", instance: "test"), postgres: nil,
            topics: [.edgeActivity], logger: logger)
        var context = made.context
        let signer = EventSigner.generate(role: .edge, keyID: "edge-1").signer
        let verifier = try EventVerifier(TrustBundle(keys: [signer.trustedKey]))
        context.authentication = EventAuthentication(signer: signer, verifier: verifier)
        return (made.cluster, context, verifier)
    }

    func report(_ index: Int) -> RequestProxied {
        RequestProxied(
            edgeID: "e", requestID: "req-\(index)", target: AccessTarget(scheme: "https", host: "api", port: 443),
            status: 200, bytes: 1, latencyMilliseconds: 1)
    }

    /// Every record on the activity topic, decoded and checked by a verifier that has cached nothing.
    func readAll(
        _ cluster: KafkaMockCluster, _ context: ServiceContext, count: Int, trusting verifier: EventVerifier
    ) async throws -> [(event: CloudEvent, requestID: String)] {
        let topic = context.topics.name(.edgeActivity)
        var partitions: [KafkaTopicPartitionOffset] = []
        for partition in 0..<context.configuration.topics.specification(.edgeActivity).partitions {
            partitions.append(.init(topic: topic, partition: partition, offset: .beginning))
        }
        var configuration = KafkaConsumerConfiguration(
            client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "reader"), mode: .assign(partitions))
        configuration.fetchWaitMaxMilliseconds = 5
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        defer { Task { await consumer.close() } }
        var read: [(CloudEvent, String)] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while read.count < count, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch() {
            for message in batch {
                let event = try CloudEvent(kafkaMessage: message)
                let payload = try EventCatalog.sigil.decode(RequestProxied.self, from: event)
                #expect(try verifier.verify(event, payload) == .edge)
                read.append((event, payload.requestID ?? ""))
            }
        }
        return read
    }

    @Test("reports enqueued at once from many tasks go out under a few signatures, every one verifiable, none lost")
    func batched() async throws {
        let (cluster, context, verifier) = try await edgeContext()
        let batcher = EventBatcher(context: context)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<250 {
                        try batcher.enqueue(
                            report(task * 1_000 + index), to: .edgeActivity, tenant: "acme", partitionKey: "e",
                            subject: nil)
                    }
                }
            }
            try await group.waitForAll()
        }
        let read = try await readAll(cluster, context, count: 2_000, trusting: verifier)
        #expect(read.count == 2_000)
        #expect(Set(read.map(\.requestID)).count == 2_000, "each report once")
        let signatures = Set(read.map { $0.event.signature!.split(separator: ":")[1] })
        #expect(signatures.count <= 10, "2,000 reports under \(signatures.count) signatures")
    }

    @Test("a lone report goes out signed alone within the linger; flush sends what is held at once")
    func lone() async throws {
        let (cluster, context, verifier) = try await edgeContext()
        let batcher = EventBatcher(context: context)
        try batcher.enqueue(report(1), to: .edgeActivity, tenant: "acme", partitionKey: "e", subject: nil)
        let first = try await readAll(cluster, context, count: 1, trusting: verifier)
        #expect(first.map(\.requestID) == ["req-1"])
        #expect(first.first?.event.signature?.split(separator: ":").count == 2, "signed alone")
        try batcher.enqueue(report(2), to: .edgeActivity, tenant: "acme", partitionKey: "e", subject: nil)
        try batcher.enqueue(report(3), to: .edgeActivity, tenant: "acme", partitionKey: "e", subject: nil)
        batcher.flush()
        try await context.producer.flush()
        let all = try await readAll(cluster, context, count: 3, trusting: verifier)
        #expect(Set(all.map(\.requestID)) == ["req-1", "req-2", "req-3"])
    }
}
