import Foundation
import Logging
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import SigilService

/// `sigil.config` as admission writes a set: every event of a set acknowledged before the answer, each verifiable
/// alone from the topic; a broker that is down fails the write instead of answering as if it had happened.
@Suite("Configuration log: a set written whole, each event verifiable alone; a broker down is an error")
struct ConfigurationLogTests {
    let logger = Logger(label: "test.config-log")

    func producer(_ cluster: KafkaMockCluster, timeout: Int) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(
            client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "test-config-log"))
        configuration.messageTimeoutMilliseconds = timeout
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    /// `count` server workloads of a set, signed together as admission signs them.
    func set(_ count: Int, signer: EventSigner) throws -> [CloudEvent] {
        let now = Date()
        let events = try (0..<count).map { index in
            try ResourceDefined(
                kind: .serverWorkload,
                metadata: ResourceMetadata(
                    name: "w-\(index)", tenant: "acme", labels: [:], uid: UUIDv7.generate(),
                    resourceVersion: UUIDv7.generate(), generation: 1, createdAt: now, updatedAt: now,
                    createdBy: "test"),
                spec: ["host": .string("w-\(index).internal"), "port": 443], previousResourceVersion: nil,
                references: [], specDigest: "", changedBy: ResourceActor(tokenName: "ops", role: "admin")
            ).cloudEvent(
                source: EventSource(service: "policy", instance: "test"), tenant: "acme",
                partitionKey: "acme/ServerWorkload/w-\(index)")
        }
        return try signer.sign(batch: events)
    }

    @Test("300 events of a set reach the topic across partitions, one signature for all, each verifying alone")
    func setWrittenWhole() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "config", partitions: 6))
        let signer = EventSigner.generate(role: .policy, keyID: "policy-1").signer
        let log = KafkaConfigurationLog(producer: try producer(cluster, timeout: 10_000), topic: "config")
        let events = try set(300, signer: signer)
        try await log.append(contentsOf: events)

        var configuration = KafkaConsumerConfiguration(
            client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "reader"),
            mode: .assign((0..<6).map { .init(topic: "config", partition: $0, offset: .beginning) }))
        configuration.fetchWaitMaxMilliseconds = 5
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        var read: [CloudEvent] = []
        let deadline = ContinuousClock.now + .seconds(20)
        while read.count < 300, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch() {
            read += try batch.map { try CloudEvent(kafkaMessage: $0) }
        }
        await consumer.close()
        #expect(read.count == 300)
        #expect(Set(read.map(\.id)) == Set(events.map(\.id)))
        // A reader that has verified nothing yet (a new edge) checks each alone; one signature for the whole set.
        let verifier = try EventVerifier(TrustBundle(keys: [signer.trustedKey]))
        for event in read.reversed() {
            #expect(try verifier.verify(event, try EventCatalog.sigil.decode(event)) == .policy)
        }
        #expect(Set(read.compactMap { $0.signature?.split(separator: ":").dropFirst().first }).count == 1)
    }

    @Test("with the broker down the write of a set fails (admission then answers 503) instead of returning")
    func brokerDown() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "config", partitions: 2))
        let producer = try producer(cluster, timeout: 1_500)
        let log = KafkaConfigurationLog(producer: producer, topic: "config")
        let signer = EventSigner.generate(role: .policy, keyID: "policy-1").signer
        try await log.append(contentsOf: try set(2, signer: signer))
        try cluster.setBrokerDown(1)
        // Nothing else may take the broker's port meanwhile, and the cluster must not go away while it is held: the
        // mock aborts the process when it cannot listen there again (see KafkaTests.brokerDownAndUp).
        let port = try #require(cluster.bootstrapServers.split(separator: ":").last.flatMap { Int($0) })
        let held = try #require(HeldPort(port), "port \(port) was taken while the broker was down")
        await #expect(throws: KafkaError.self) { try await log.append(contentsOf: try set(20, signer: signer)) }
        held.release()
        try cluster.setBrokerUp(1)
        withExtendedLifetime(cluster) {}
    }
}
