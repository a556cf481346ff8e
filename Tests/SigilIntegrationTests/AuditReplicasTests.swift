import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilKafka
import SigilProjection
import SigilService
import Testing

@testable import AuditIngestion

@Suite("Audit replicas: three projections of one audit log in two lanes each, one killed mid-stream")
struct AuditReplicasTests {
    let logger = Logger(label: "test.audit-replicas")
    let topic = "events"

    @Test("every event is in audit.events exactly once and every chain verifies")
    func threeReplicas() async throws {
        try await withAuditLog(partitions: 3) { log in
            let (producer, postgres, schema, admin) = (log.producer, log.postgres, log.schema, log.admin)
            // A replica as the service runs it: two lanes, each reading its share of the partitions.
            func replica(_ index: Int) -> [ProjectionRunner] {
                (0..<2).map { log.runner("audit-\(index)-\($0)", lane: ProjectionLane(index: $0, of: 2)) }
            }
            // Lane 1 of 2 reads partition 1 of the three; lane 2 reads partitions 0 and 2.
            let lanes = replica(0)
            #expect(try await lanes[0].startPositions().map(\.partition) == [0, 2])
            #expect(try await lanes[1].startPositions().map(\.partition) == [1])
            func produce(_ range: Range<Int>) async throws {
                for index in range {
                    let tenant = index.isMultiple(of: 2) ? "acme" : "globex"
                    let event = try TenantCreated(displayName: "t\(index)").cloudEvent(
                        source: EventSource(service: "issue", instance: "1"), tenant: tenant,
                        partitionKey: "key-\(index)", subject: "s\(index)")
                    _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
                }
            }
            func count(_ expression: String) async throws -> Int {
                try await TestPostgres.count(postgres, "\(schema.rawValue).events", where: expression)
            }
            func rows() async throws -> Int {
                let result = try await postgres.query(
                    PostgresQuery(unsafeSQL: "SELECT count(DISTINCT event_id)::int FROM \(schema.rawValue).events"))
                for try await distinct in result.decode(Int.self) { return distinct }
                return 0
            }

            try await produce(0..<300)
            try await withThrowingTaskGroup(of: Void.self) { group in
                let doomed = replica(2).map { lane in Task { try await lane.run() } }
                for runner in replica(0) + replica(1) { group.addTask { try await runner.run() } }
                // Killed once it is working: its transaction in flight rolls back, the others carry on.
                let deadline = ContinuousClock.now + .seconds(60)
                while try await count("true") < 100, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(10))
                }
                for lane in doomed { lane.cancel() }
                try await produce(300..<600)
                while try await count("true") < 600, ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                group.cancelAll()
            }
            #expect(try await count("true") == 600)
            #expect(try await rows() == 600)
            // No replica applied what another had (a duplicate would have been refused and dead-lettered), and the
            // stored offsets are where the partitions end.
            #expect(try await admin.highWatermark(topic: "deadletter", partition: 0) == 0)
            for partition in Int32(0)..<3 {
                let stored = try await postgres.query(
                    """
                    SELECT next_offset FROM \(unescaped: schema.rawValue).projection_offsets
                    WHERE projection = 'audit-log' AND topic = \(topic) AND partition = \(partition)
                    """)
                var offset: Int64?
                for try await value in stored.decode(Int64.self) { offset = value }
                #expect(offset == (try await admin.highWatermark(topic: topic, partition: partition)))
            }
            // Each tenant has one chain per partition, each complete and intact.
            let verifier = AuditVerifier(schema: schema, postgres: postgres, events: nil)
            for tenant in ["acme", "globex"] {
                let report = try await verifier.verify(tenant: tenant, logger: logger)
                #expect(report.verified, "\(tenant): \(report.breaks)")
                #expect(report.records == 300)
                #expect(report.chains == 3)
            }
        }
    }

    @Test("an event published again with its id (a handler run twice after a crash) is recorded once")
    func sameEventTwice() async throws {
        try await withAuditLog(partitions: 2) { log in
            let (producer, postgres, schema, admin) = (log.producer, log.postgres, log.schema, log.admin)
            let runner = log.runner("audit")
            // Ten decisions; then five of them published again by a "restarted" handler: same derived id, a later
            // time; and one of them again in the same batch as its first copy.
            let source = EventSource(service: "policy", instance: "1")
            func decision(_ index: Int, at time: Date) throws -> CloudEvent {
                try TenantCreated(displayName: "decision \(index)").cloudEvent(
                    source: source, tenant: "acme", partitionKey: "request-\(index)", time: time,
                    id: DerivedEventID.make(from: "attested-\(index)", type: TenantCreated.eventType))
            }
            for index in 0..<10 {
                _ = try await producer.sendAndAwait(try decision(index, at: Date()).kafkaMessage(topic: topic))
            }
            _ = try await producer.sendAndAwait(try decision(9, at: Date()).kafkaMessage(topic: topic))
            func count() async throws -> Int {
                try await TestPostgres.count(postgres, "\(schema.rawValue).events", where: "true")
            }
            func offsetsAtEnd() async throws -> Bool {
                for partition in Int32(0)..<2 {
                    let stored = try await postgres.query(
                        """
                        SELECT next_offset FROM \(unescaped: schema.rawValue).projection_offsets
                        WHERE projection = 'audit-log' AND topic = \(topic) AND partition = \(partition)
                        """)
                    var offset: Int64 = 0
                    for try await value in stored.decode(Int64.self) { offset = value }
                    if offset != (try await admin.highWatermark(topic: topic, partition: partition)) { return false }
                }
                return true
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await runner.run() }
                let deadline = ContinuousClock.now + .seconds(30)
                while try await !offsetsAtEnd(), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                for index in 0..<5 {
                    let later = Date().addingTimeInterval(5)
                    _ = try await producer.sendAndAwait(try decision(index, at: later).kafkaMessage(topic: topic))
                }
                while try await !offsetsAtEnd(), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(20))
                }
                group.cancelAll()
            }
            #expect(try await count() == 10)
            #expect(try await admin.highWatermark(topic: "deadletter", partition: 0) == 0)
            let report = try await AuditVerifier(schema: schema, postgres: postgres, events: nil)
                .verify(tenant: "acme", logger: logger)
            #expect(report.verified, "\(report.breaks)")
            #expect(report.records == 10)
        }
    }

    @Test("a replica that takes up a partition where another left off continues its chains, whatever it saw before")
    func takesUpWhereAnotherLeftOff() async throws {
        try await withAuditLog(partitions: 1) { log in
            let (producer, postgres, schema, admin) = (log.producer, log.postgres, log.schema, log.admin)
            let source = EventSource(service: "issue", instance: "1")
            for index in 0..<20 {
                let event = try TenantCreated(displayName: "t\(index)").cloudEvent(
                    source: source, tenant: "acme", partitionKey: "key-\(index)")
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            var configuration = KafkaConsumerConfiguration(
                client: .init(bootstrapServers: log.cluster.bootstrapServers, clientID: "reader"),
                mode: .assign([.init(topic: topic, partition: 0, offset: .beginning)]))
            configuration.fetchWaitMaxMilliseconds = 5
            let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
            var messages: [KafkaConsumerMessage] = []
            while messages.count < 20, let batch = try await consumer.nextBatch() { messages += batch }
            await consumer.close()
            // Both replicas are up before either applies anything (what B knows of the chain is from then); A applies
            // the first ten, then B the next ten from the stored offset, as after a rebalance.
            let (first, second) = (log.runner("audit-a"), log.runner("audit-b"))
            #expect(try await first.applyBatch(Array(messages[0..<10])).applied == 10)
            #expect(try await second.applyBatch(Array(messages[10..<20])).applied == 10)
            #expect(try await TestPostgres.count(postgres, "\(schema.rawValue).events", where: "true") == 20)
            #expect(try await admin.highWatermark(topic: "deadletter", partition: 0) == 0)
            let report = try await AuditVerifier(schema: schema, postgres: postgres, events: nil)
                .verify(tenant: "acme", logger: logger)
            #expect(report.verified, "\(report.breaks)")
            #expect(report.records == 20)
        }
    }

    /// A mock cluster with the events topic (`partitions`) and a dead-letter topic, a fresh audit schema (dropped
    /// after `body`), and runners of the audit projection reading them.
    struct AuditLog: Sendable {
        let cluster: KafkaMockCluster
        let producer: KafkaProducer
        let admin: KafkaAdmin
        let postgres: PostgresClient
        let schema: SchemaName
        let topic: String
        let logger: Logger

        func runner(_ instance: String, lane: ProjectionLane? = nil) -> ProjectionRunner {
            var configuration = ProjectionRunner.Configuration(
                topics: [topic], kafka: .init(bootstrapServers: cluster.bootstrapServers, clientID: instance),
                deadLetterTopic: "deadletter")
            configuration.lane = lane
            configuration.fetchWaitMaxMilliseconds = 5
            configuration.retryDelay = .milliseconds(20)
            return ProjectionRunner(
                projection: AuditProjection(schema: schema, postgres: postgres),
                schema: schema, configuration: configuration, postgres: postgres, producer: producer, admin: admin,
                source: EventSource(service: "audit", instance: instance), logger: logger)
        }
    }

    func withAuditLog(partitions: Int32, _ body: @Sendable (AuditLog) async throws -> Void) async throws {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: topic, partitions: partitions))
        try cluster.createTopic(.init(name: "deadletter", partitions: 1))
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
        let producer = try KafkaProducer(configuration: .init(client: client), logger: logger)
        let schema = TestPostgres.uniqueSchema("audit")
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: schema, migrations: SigilServiceDefinition.auditIngestion.migrations)
                .apply(on: postgres, logger: logger)
            let admin = try KafkaAdmin(configuration: client, logger: logger)
            try await body(
                AuditLog(
                    cluster: cluster, producer: producer, admin: admin, postgres: postgres, schema: schema,
                    topic: topic, logger: logger))
            try await postgres.query("DROP SCHEMA \(unescaped: schema.rawValue) CASCADE", logger: logger)
        }
    }
}
