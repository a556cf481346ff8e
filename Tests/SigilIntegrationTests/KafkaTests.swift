import Foundation
import Logging
import SigilKafka
import Synchronization
import Testing

@Suite("Kafka through librdkafka against the mock broker")
struct KafkaTests {
    let logger = Logger(label: "test.kafka")

    func producer(_ cluster: KafkaMockCluster, timeout: Int = 10_000) throws -> KafkaProducer {
        var configuration = KafkaProducerConfiguration(
            client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "test-producer"))
        configuration.messageTimeoutMilliseconds = timeout
        return try KafkaProducer(configuration: configuration, logger: logger)
    }

    func consumer(_ cluster: KafkaMockCluster, _ mode: KafkaConsumerConfiguration.Mode) throws -> KafkaConsumer {
        var configuration = KafkaConsumerConfiguration(
            client: .init(bootstrapServers: cluster.bootstrapServers, clientID: "test-consumer"), mode: mode)
        configuration.fetchWaitMaxMilliseconds = 5
        configuration.sessionTimeoutMilliseconds = 6_000
        return try KafkaConsumer(configuration: configuration, logger: logger)
    }

    /// Reads until `count` records arrived or the deadline passed.
    func read(
        _ consumer: KafkaConsumer, count: Int, within timeout: Duration = .seconds(20)
    ) async throws -> [KafkaConsumerMessage] {
        try await withThrowingTaskGroup(of: [KafkaConsumerMessage].self) { group in
            group.addTask {
                var messages: [KafkaConsumerMessage] = []
                while messages.count < count, let batch = try await consumer.nextBatch() {
                    messages += batch
                }
                return messages
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return []
            }
            let first = try await group.next() ?? []
            group.cancelAll()
            return first
        }
    }

    @Test("a record round-trips with key, headers (with and without value) and an explicit partition")
    func roundTrip() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "round-trip", partitions: 3))
        let producer = try producer(cluster)
        let headers = [
            KafkaHeader(key: "ce_id", string: "abc"), KafkaHeader(key: "flag", value: nil),
            KafkaHeader(key: "bin", value: [0, 255, 1]),
        ]
        let report = try await producer.sendAndAwait(
            KafkaProducerMessage(
                topic: "round-trip", partition: 2, key: Array("k-1".utf8), value: Array("hello".utf8), headers: headers)
        )
        #expect(report.topic == "round-trip")
        #expect(report.partition == 2)
        #expect(report.offset == 0)
        let second = try await producer.sendAndAwait(
            KafkaProducerMessage(topic: "round-trip", partition: 2, value: Array("again".utf8)))
        #expect(second.offset == 1)

        let consumer = try consumer(cluster, .assign([.init(topic: "round-trip", partition: 2, offset: .beginning)]))
        let messages = try await read(consumer, count: 2)
        await consumer.close()
        try #require(messages.count == 2)
        #expect(messages[0].key == Array("k-1".utf8))
        #expect(messages[0].value == Array("hello".utf8))
        #expect(messages[0].headers == headers)
        #expect(messages[0].partition == 2 && messages[0].offset == 0)
        #expect(messages[0].timestampMilliseconds != nil)
        #expect(messages[1].key == nil && messages[1].offset == 1)
    }

    @Test("assign mode starts exactly at a stored offset")
    func resumeFromOffset() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "resume", partitions: 1))
        let producer = try producer(cluster)
        for index in 0..<5 {
            _ = try await producer.sendAndAwait(
                KafkaProducerMessage(topic: "resume", partition: 0, value: [UInt8(index)]))
        }
        let consumer = try consumer(cluster, .assign([.init(topic: "resume", partition: 0, offset: .exactly(3))]))
        // Read as an AsyncSequence, the way a service loop does; `stop()` ends it if records never come.
        let deadline = Task {
            try await Task.sleep(for: .seconds(20))
            consumer.stop()
        }
        defer { deadline.cancel() }
        var messages: [KafkaConsumerMessage] = []
        for try await message in consumer.messages {
            messages.append(message)
            if messages.count == 2 { break }
        }
        await consumer.close()
        #expect(messages.map(\.offset) == [3, 4])
        #expect(messages.map(\.value) == [[3], [4]])
    }

    @Test("two consumers in one group split the partitions and each record is read once")
    func consumerGroup() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "shared", partitions: 4))
        let first = try consumer(cluster, .group(id: "policy", topics: ["shared"]))
        let second = try consumer(cluster, .group(id: "policy", topics: ["shared"]))
        let received = Locked<[String: [KafkaConsumerMessage]]>([:])

        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, consumer) in [("first", first), ("second", second)] {
                group.addTask {
                    while let batch = try await consumer.nextBatch() {
                        for message in batch { try consumer.markProcessed(message) }
                        received.withLock { $0[name, default: []] += batch }
                    }
                }
            }
            // Wait until the group has settled on a split of all four partitions.
            let deadline = ContinuousClock.now + .seconds(30)
            var split: ([KafkaTopicPartitionOffset], [KafkaTopicPartitionOffset]) = ([], [])
            while ContinuousClock.now < deadline {
                split = (try first.assignment(), try second.assignment())
                if !split.0.isEmpty && !split.1.isEmpty && split.0.count + split.1.count == 4 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(split.0.count + split.1.count == 4)
            #expect(Set(split.0.map(\.partition)).isDisjoint(with: split.1.map(\.partition)))

            let producer = try producer(cluster)
            for index in 0..<40 {
                _ = try await producer.sendAndAwait(
                    KafkaProducerMessage(topic: "shared", partition: Int32(index % 4), value: [UInt8(index)]))
            }
            while ContinuousClock.now < deadline, received.withLock({ $0.values.map(\.count).reduce(0, +) }) < 40 {
                try await Task.sleep(for: .milliseconds(50))
            }
            first.stop()
            second.stop()
            try await group.waitForAll()
        }
        await first.close()
        await second.close()

        let byConsumer = received.withLock { $0 }
        let all = byConsumer.values.flatMap { $0 }
        #expect(all.count == 40)
        #expect(Set(all.map { [$0.value[0]] }).count == 40)
        #expect(byConsumer["first"]?.isEmpty == false)
        #expect(byConsumer["second"]?.isEmpty == false)
        let firstPartitions = Set(byConsumer["first", default: []].map(\.partition))
        let secondPartitions = Set(byConsumer["second", default: []].map(\.partition))
        #expect(firstPartitions.isDisjoint(with: secondPartitions))
    }

    @Test("a broker taken down surfaces as a typed, retriable error; after it is back, records flow again")
    func brokerDownAndUp() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "outage", partitions: 1))
        let producer = try producer(cluster, timeout: 1_500)
        _ = try await producer.sendAndAwait(KafkaProducerMessage(topic: "outage", partition: 0, value: [1]))

        try cluster.setBrokerDown(1)
        // While it is down, nothing else may take its port: librdkafka's mock aborts the process when it cannot listen
        // there again, and other tests open sockets all the time. Held bound (not listening: connections are refused).
        let port = try #require(cluster.bootstrapServers.split(separator: ":").last.flatMap { Int($0) })
        let held = try #require(HeldPort(port), "port \(port) was taken while the broker was down")
        do {
            _ = try await producer.sendAndAwait(KafkaProducerMessage(topic: "outage", partition: 0, value: [2]))
            Issue.record("delivered while the broker was down")
        } catch {
            #expect(error.code == .messageTimedOut)
            #expect(error.isRetriable)
            #expect(error.description.contains("_MSG_TIMED_OUT"))
        }
        var adminConfiguration = KafkaClientConfiguration(
            bootstrapServers: cluster.bootstrapServers, clientID: "test-admin")
        adminConfiguration.requestTimeoutMilliseconds = 1_000
        let admin = try KafkaAdmin(configuration: adminConfiguration, logger: logger)
        await #expect(throws: KafkaError.self) { _ = try await admin.metadata() }

        held.release()
        try cluster.setBrokerUp(1)
        let report = try await producer.sendAndAwait(KafkaProducerMessage(topic: "outage", partition: 0, value: [3]))
        let consumer = try consumer(
            cluster, .assign([.init(topic: "outage", partition: 0, offset: .exactly(report.offset))]))
        let messages = try await read(consumer, count: 1)
        await consumer.close()
        #expect(messages.first?.value == [3])
        // The admin client reconnects on its own backoff; on a loaded machine its first request may still time out.
        var partitions: Int32?
        let deadline = ContinuousClock.now + .seconds(15)
        while partitions == nil, ContinuousClock.now < deadline {
            partitions = try? await admin.metadata().topic("outage")?.partitions
        }
        #expect(partitions == 1)
    }

    @Test("ensureTopics leaves existing topics alone and tolerates a broker that never answers CreateTopics")
    func ensureTopics() async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: "present", partitions: 2))
        var configuration = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test-admin")
        configuration.requestTimeoutMilliseconds = 1_000
        let admin = try KafkaAdmin(configuration: configuration, logger: logger)
        #expect(try await admin.ensureTopics([.init(name: "present", partitions: 2)]) == [])
        // The mock cluster does not answer CreateTopics: no error, nothing reported as created.
        #expect(try await admin.ensureTopics([.init(name: "absent", partitions: 2)]) == [])
        let metadata = try await admin.metadata()
        #expect(metadata.brokers.count == 1)
        #expect(metadata.topic("present")?.partitions == 2)
    }

    @Test("invalid client configuration is refused with the property named")
    func invalidConfiguration() throws {
        var client = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "x")
        client.additionalProperties = ["no.such.property": "1"]
        do {
            _ = try KafkaProducer(configuration: .init(client: client), logger: logger)
            Issue.record("accepted an unknown property")
        } catch {
            #expect(error.code == .invalidConfiguration)
            #expect(error.operation.contains("no.such.property"))
        }
    }
}

/// Shared mutable state for test tasks.
final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}

/// A loopback TCP port held by a socket that is bound and does not listen.
final class HeldPort {
    private var descriptor: Int32

    init?(_ port: Int) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else {
            close(descriptor)
            return nil
        }
    }

    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
