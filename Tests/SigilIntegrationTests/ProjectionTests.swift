import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilKafka
import SigilProjection
import Synchronization
import Testing

/// Records every applied event in `<schema>.applied`; can be told to fail (as a database would) on one subject,
/// or to reject one subject as unappliable.
struct RecordingProjection: Projection {
    let name = "recording"
    let schema: SchemaName
    let failOn: Locked<String?>
    let rejectSubject: String?

    static func migrations() -> [Migration] {
        [
            Migration(version: 1, name: "applied") { schema in
                ["CREATE TABLE \(unescaped: schema.rawValue).applied (event_id text NOT NULL, subject text NOT NULL)"]
            }
        ]
    }

    struct SimulatedOutage: Error {}

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        let subject = event.envelope.subject ?? ""
        try await connection.query(
            "INSERT INTO \(unescaped: schema.rawValue).applied (event_id, subject) VALUES (\(event.envelope.id), \(subject))",
            logger: logger
        )
        if failOn.withLock({ $0 }) == subject { throw SimulatedOutage() }
        // A value the database refuses (SQLSTATE 22P02, invalid text representation), as a NUL or an
        // out-of-range value would be: about the event, not the database.
        if subject.hasPrefix("unstorable") {
            try await connection.query("SELECT \(subject)::integer", logger: logger)
        }
        if rejectSubject == subject {
            throw ProjectionRejection(code: "unappliable", detail: "test rejects \(subject)")
        }
    }
}

@Suite("Projections: batches, offsets, dead letters")
struct ProjectionTests {
    let logger = Logger(label: "test.projection")
    let source = EventSource(service: "test", instance: "1")
    let topic = "events"

    struct Fixture {
        let cluster: KafkaMockCluster
        let producer: KafkaProducer
        let admin: KafkaAdmin
        let schema: SchemaName
        let failOn = Locked<String?>(nil)
    }

    func fixture() throws -> Fixture {
        let cluster = try KafkaMockCluster(logger: logger)
        try cluster.createTopic(.init(name: topic, partitions: 1))
        try cluster.createTopic(.init(name: "deadletter", partitions: 1))
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
        return Fixture(
            cluster: cluster,
            producer: try KafkaProducer(configuration: .init(client: client), logger: logger),
            admin: try KafkaAdmin(configuration: client, logger: logger),
            schema: TestPostgres.uniqueSchema("projection")
        )
    }

    /// A runner of `projection` (default: a `RecordingProjection` rejecting `rejecting`).
    func runner(
        _ fixture: Fixture, _ postgres: PostgresClient, rejecting: String? = nil, projection: (any Projection)? = nil
    ) -> ProjectionRunner {
        var configuration = ProjectionRunner.Configuration(
            topics: [topic],
            kafka: .init(bootstrapServers: fixture.cluster.bootstrapServers, clientID: "test-runner"),
            deadLetterTopic: "deadletter"
        )
        configuration.fetchWaitMaxMilliseconds = 5
        configuration.retryDelay = .milliseconds(100)
        return ProjectionRunner(
            projection: projection
                ?? RecordingProjection(schema: fixture.schema, failOn: fixture.failOn, rejectSubject: rejecting),
            schema: fixture.schema,
            configuration: configuration,
            postgres: postgres,
            producer: fixture.producer,
            admin: fixture.admin,
            source: source,
            logger: logger
        )
    }

    func event(_ subject: String) throws -> CloudEvent {
        try TenantCreated(displayName: subject).cloudEvent(
            source: source, tenant: "acme", partitionKey: "acme", subject: subject)
    }

    /// Produces events and returns them as a consumer would read them.
    @discardableResult
    func produce(_ fixture: Fixture, _ subjects: [String]) async throws -> [KafkaConsumerMessage] {
        var messages: [KafkaConsumerMessage] = []
        for subject in subjects {
            let record = try event(subject).kafkaMessage(topic: topic, partition: 0)
            let report = try await fixture.producer.sendAndAwait(record)
            messages.append(
                .init(
                    topic: topic, partition: 0, offset: report.offset, key: record.key, value: record.value,
                    headers: record.headers, timestampMilliseconds: nil))
        }
        return messages
    }

    func appliedSubjects(_ postgres: PostgresClient, _ schema: SchemaName) async throws -> [String] {
        let rows = try await postgres.query(
            "SELECT subject FROM \(unescaped: schema.rawValue).applied ORDER BY subject")
        var subjects: [String] = []
        for try await subject in rows.decode(String.self) { subjects.append(subject) }
        return subjects
    }

    func storedOffset(_ postgres: PostgresClient, _ schema: SchemaName) async throws -> Int64? {
        let rows = try await postgres.query(
            "SELECT next_offset FROM \(unescaped: schema.rawValue).projection_offsets WHERE topic = \(topic) AND partition = 0"
        )
        for try await offset in rows.decode(Int64.self) { return offset }
        return nil
    }

    /// The first `count` dead letters written (waiting up to 10 s for them).
    func readDeadLetters(_ fixture: Fixture, count: Int) async throws -> [EventDeadLettered] {
        let consumer = try KafkaConsumer(
            configuration: .init(
                client: .init(bootstrapServers: fixture.cluster.bootstrapServers, clientID: "dlq-reader"),
                mode: .assign([.init(topic: "deadletter", partition: 0, offset: .beginning)])
            ),
            logger: logger
        )
        var letters: [EventDeadLettered] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while letters.count < count, ContinuousClock.now < deadline, let batch = try await consumer.nextBatch() {
            for message in batch {
                letters.append(
                    try EventCatalog.sigil.decode(EventDeadLettered.self, from: try CloudEvent(kafkaMessage: message)))
            }
        }
        await consumer.close()
        return letters
    }

    /// Runs the runner until `done` holds, then stops it as a shutdown would.
    func run(_ runner: ProjectionRunner, until done: @escaping @Sendable () async throws -> Bool) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await runner.run() }
            let deadline = ContinuousClock.now + .seconds(20)
            while ContinuousClock.now < deadline, try await !done() {
                try await Task.sleep(for: .milliseconds(50))
            }
            group.cancelAll()
        }
    }

    @Test("a batch that fails midway leaves neither rows nor offsets; the next run applies it exactly once")
    func failedBatch() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            let batch = try await produce(fixture, ["e1", "e2", "e3", "e4", "e5"])
            fixture.failOn.withLock { $0 = "e3" }
            let failure = await #expect(throws: PostgresTransactionError.self) {
                try await runner(fixture, postgres).applyBatch(batch)
            }
            #expect(failure?.closureError is RecordingProjection.SimulatedOutage)
            #expect(try await appliedSubjects(postgres, fixture.schema) == [])
            #expect(try await storedOffset(postgres, fixture.schema) == nil)

            // The outage is over: a fresh runner resumes from the (absent) stored offsets and applies each once.
            fixture.failOn.withLock { $0 = nil }
            try await produce(fixture, ["e6"])
            try await run(runner(fixture, postgres)) { try await storedOffset(postgres, fixture.schema) == 6 }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["e1", "e2", "e3", "e4", "e5", "e6"])
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }

    @Test("a restarted projection resumes from its stored offsets, not from the beginning")
    func resume() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            try await produce(fixture, ["a1", "a2", "a3"])
            try await run(runner(fixture, postgres)) { try await storedOffset(postgres, fixture.schema) == 3 }
            try await produce(fixture, ["b1", "b2"])
            try await run(runner(fixture, postgres)) { try await storedOffset(postgres, fixture.schema) == 5 }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["a1", "a2", "a3", "b1", "b2"])
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }

    @Test("a rebuilt projection (schema dropped) re-applies its migrations and replays from offset 0 to the same rows")
    func rebuild() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            let migrations = MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations())
            try await migrations.apply(on: postgres, logger: logger)
            try await produce(fixture, ["r1", "r2", "r3"])
            try await run(runner(fixture, postgres)) { try await storedOffset(postgres, fixture.schema) == 3 }
            try await migrations.drop(on: postgres, logger: logger)
            #expect(try await migrations.apply(on: postgres, logger: logger) == [1])
            #expect(try await storedOffset(postgres, fixture.schema) == nil)
            try await run(runner(fixture, postgres)) { try await storedOffset(postgres, fixture.schema) == 3 }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["r1", "r2", "r3"])
            try await migrations.drop(on: postgres, logger: logger)
        }
    }

    @Test("malformed, unknown and rejected events go to the dead-letter topic and the projection goes on")
    func deadLetters() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            try await produce(fixture, ["good-1"])
            _ = try await fixture.producer.sendAndAwait(
                KafkaProducerMessage(
                    topic: topic, partition: 0, key: Array("k".utf8), value: Array("{not an event".utf8)))
            var unknown = try event("unknown").kafkaMessage(topic: topic, partition: 0)
            unknown.headers = unknown.headers.map {
                $0.key == "ce_type" ? KafkaHeader(key: "ce_type", string: "dev.sigil.config.teleported.v1") : $0
            }
            _ = try await fixture.producer.sendAndAwait(unknown)
            try await produce(fixture, ["poison", "good-2"])

            try await run(runner(fixture, postgres, rejecting: "poison")) {
                try await storedOffset(postgres, fixture.schema) == 5
            }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["good-1", "good-2"])

            let letters = try await readDeadLetters(fixture, count: 3)
            #expect(letters.map(\.errorCode) == ["missing-attribute", "unknown-type", "unappliable"])
            #expect(letters.map(\.offset) == [1, 2, 3])
            #expect(letters.allSatisfy { $0.consumer == "test/recording" && $0.topic == topic })
            #expect(letters[1].headers["ce_type"] == "dev.sigil.config.teleported.v1")
            #expect(letters[0].value.bytes == Array("{not an event".utf8))
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }

    @Test("an event the database refuses (a data exception) is dead-lettered, never retried forever; the rest applies")
    func unstorable() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            try await produce(fixture, ["good-1", "unstorable-1", "good-2"])
            try await run(runner(fixture, postgres)) {
                try await storedOffset(postgres, fixture.schema) == 3
            }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["good-1", "good-2"])
            let letters = try await readDeadLetters(fixture, count: 1)
            #expect(letters.map(\.errorCode) == ["unstorable-event"])
            #expect(letters.first?.errorDetail.contains("22P02") == true)
            #expect(letters.first?.offset == 1)
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }
}

extension ProjectionTests {
    @Test(
        "two replicas applying the same records: one applies them, the other fails as a stale writer; offsets never go back"
    )
    func staleWriter() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            let first = try await produce(fixture, ["a", "b", "c"])
            let replicaA = runner(fixture, postgres)
            let replicaB = runner(fixture, postgres)
            try await replicaA.applyBatch(first)
            await #expect(throws: StaleProjectionWriter.self) { try await replicaB.applyBatch(first) }
            await #expect(throws: StaleProjectionWriter.self) { try await replicaB.applyBatch(Array(first.suffix(1))) }
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["a", "b", "c"])
            #expect(try await storedOffset(postgres, fixture.schema) == 3)
            // Concurrently, from scratch: exactly one of them applies the next records.
            let next = try await produce(fixture, ["d", "e"])
            let results = await withTaskGroup(of: Bool.self) { group in
                for replica in [replicaA, replicaB] {
                    group.addTask { (try? await replica.applyBatch(next)) != nil }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["a", "b", "c", "d", "e"])
            #expect(try await storedOffset(postgres, fixture.schema) == 5)
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }
}

/// `RecordingProjection` with what it applied also kept in memory, loaded from the table at start (as the services'
/// keyrings and indexes are); `beforeFirstStartReturns` runs once, after the first load.
struct RememberingProjection: Projection {
    let recording: RecordingProjection
    let postgres: PostgresClient
    let remembered = Locked<Set<String>>([])
    let beforeFirstStartReturns: Locked<(@Sendable () async throws -> Void)?>
    var name: String { recording.name }

    func start(logger: Logger) async throws {
        let rows = try await postgres.query(
            "SELECT subject FROM \(unescaped: recording.schema.rawValue).applied", logger: logger)
        var loaded: Set<String> = []
        for try await subject in rows.decode(String.self) { loaded.insert(subject) }
        remembered.withLock { $0 = loaded }
        let hook = beforeFirstStartReturns.withLock { hook in
            defer { hook = nil }
            return hook
        }
        try await hook?()
    }

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        try await recording.apply(event, connection: connection, logger: logger)
        remembered.withLock { _ = $0.insert(event.envelope.subject ?? "") }
    }
}

extension ProjectionTests {
    @Test("records another replica commits while one loads its state are in its memory: offsets are read first")
    func commitDuringLoad() async throws {
        let fixture = try fixture()
        try await TestPostgres.withClient { postgres in
            try await MigrationRunner(schema: fixture.schema, migrations: RecordingProjection.migrations()).apply(
                on: postgres, logger: logger)
            let produced = try await produce(fixture, ["a", "b"])
            let other = runner(fixture, postgres)
            // The other replica commits both records just after this one loaded its (empty) state.
            let remembering = RememberingProjection(
                recording: RecordingProjection(schema: fixture.schema, failOn: fixture.failOn, rejectSubject: nil),
                postgres: postgres,
                beforeFirstStartReturns: Locked({ _ = try await other.applyBatch(produced) }))
            let replica = runner(fixture, postgres, projection: remembering)
            try await run(replica) { remembering.remembered.withLock { $0 } == ["a", "b"] }
            #expect(remembering.remembered.withLock { $0 } == ["a", "b"], "what the other replica committed is known")
            #expect(try await appliedSubjects(postgres, fixture.schema) == ["a", "b"], "and applied once")
            try await MigrationRunner(schema: fixture.schema, migrations: []).drop(on: postgres, logger: logger)
        }
    }
}
