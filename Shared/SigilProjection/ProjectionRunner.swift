import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SigilEvents
import SigilKafka

/// Keeps one projection up to date: reads its topics in assign mode from the offsets stored in its schema, and
/// applies each batch in one transaction that also stores the next offsets, so a crash never loses or
/// double-applies an event. A record that is not a readable Sigil event, or that the projection rejects, is
/// written to the dead-letter topic (before the transaction commits) and skipped, with a metric.
public final class ProjectionRunner: Service, Sendable {
    public struct Configuration: Sendable {
        /// Topics read, by full name.
        public var topics: [String]
        public var kafka: KafkaClientConfiguration
        public var deadLetterTopic: String
        /// See `KafkaConsumerConfiguration.fetchWaitMaxMilliseconds`.
        public var fetchWaitMaxMilliseconds: Int = 10
        /// Records applied in one transaction at most (what is ready, up to this).
        public var maximumBatchSize = 500
        /// Pause before retrying after a batch could not be applied; doubled on each failure in a row, up to
        /// `maximumRetryDelay`.
        public var retryDelay: Duration = .seconds(1)
        public var maximumRetryDelay: Duration = .seconds(30)
        /// Checks who produced an event before it is applied; a `ProjectionRejection` dead-letters it. The services
        /// always set it (signature and role, see `EventVerifier`).
        public var authenticate: (@Sendable (CloudEvent, any EventPayload) throws(ProjectionRejection) -> Void)?
        /// Signs the dead letters this runner writes.
        public var sign: (@Sendable (CloudEvent) throws -> CloudEvent)?
        /// The partitions this runner reads when a projection runs in several lanes; nil: all of them.
        public var lane: ProjectionLane?

        public init(topics: [String], kafka: KafkaClientConfiguration, deadLetterTopic: String) {
            self.topics = topics
            self.kafka = kafka
            self.deadLetterTopic = deadLetterTopic
        }
    }

    public struct BatchOutcome: Sendable, Equatable {
        public var applied = 0
        public var deadLettered = 0
    }

    private let projection: any Projection
    private let configuration: Configuration
    private let offsets: ProjectionOffsets
    private let postgres: PostgresClient
    private let producer: KafkaProducer
    private let admin: KafkaAdmin
    private let source: EventSource
    private let catalog: EventCatalog
    private let logger: Logger
    private let appliedCounter: Counter
    private let failedBatches: Counter

    public init(
        projection: any Projection,
        schema: SchemaName,
        configuration: Configuration,
        postgres: PostgresClient,
        producer: KafkaProducer,
        admin: KafkaAdmin,
        source: EventSource,
        catalog: EventCatalog = .sigil,
        logger: Logger
    ) {
        self.projection = projection
        self.configuration = configuration
        self.offsets = ProjectionOffsets(schema: schema, projection: projection.name)
        self.postgres = postgres
        self.producer = producer
        self.admin = admin
        self.source = source
        self.catalog = catalog
        var logger = logger
        logger[metadataKey: "projection"] = "\(projection.name)"
        if let lane = configuration.lane { logger[metadataKey: "lane"] = "\(lane)" }
        self.logger = logger
        self.appliedCounter = Counter(
            label: "sigil.projection.events.applied", dimensions: [("projection", projection.name)])
        self.failedBatches = Counter(
            label: "sigil.projection.batches.failed", dimensions: [("projection", projection.name)])
    }

    /// Reads the stored offsets, then (re)loads the projection's in-memory state, then consumes from those offsets:
    /// in that order, whatever another replica commits in between is in the state loaded or is read again (and then
    /// refused as stale, which reloads). Loading first let a replica skip records another one committed between its
    /// load and its reading of the offsets, and keep them out of memory until the next stale batch (a data key missing
    /// from a keyring: a replica refusing to issue, seen once in a clean-clone run of the replica end-to-end test).
    /// After any failure the state is loaded again: during a retry another replica may have moved the offsets.
    public func run() async throws {
        var backoff = Backoff(first: configuration.retryDelay, maximum: configuration.maximumRetryDelay)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let attempt = ContinuousClock.now
            do {
                let positions = try await startPositions()
                try await projection.start(logger: logger)
                try await consume(from: positions)
                return
            } catch let stale as StaleProjectionWriter {
                // Another replica applied these records: take up its rows and resume from the stored offsets.
                logger.info(
                    "another replica applied these records; resuming from the stored offsets",
                    metadata: ["detail": "\(stale)"])
            } catch {
                // A transient failure (database or broker unreachable): nothing was skipped; retry, waiting longer
                // each time it fails again at once.
                failedBatches.increment()
                if ContinuousClock.now - attempt > configuration.maximumRetryDelay { backoff.reset() }
                let delay = backoff.next()
                logger.error(
                    "projection batch failed; retrying from stored offsets",
                    metadata: ["error": "\(String(reflecting: error))", "retry.in": "\(delay)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            }
        }
    }

    /// Where reading starts: the stored next offset of each partition (of its lane) of each topic, or the beginning.
    public func startPositions() async throws -> [KafkaTopicPartitionOffset] {
        let stored = try await offsets.load(from: postgres, logger: logger)
        let metadata = try await admin.metadata()
        var positions: [KafkaTopicPartitionOffset] = []
        for topic in configuration.topics {
            guard let description = metadata.topic(topic) else {
                throw KafkaError(
                    code: .unknownTopicOrPartition, operation: "read \(topic)", reason: "topic does not exist")
            }
            let offsets = (0..<description.partitions).map { stored[TopicPartition(topic: topic, partition: $0)] }
            // Never stored: from the first record held (an exact offset, see `KafkaAdmin.watermarks`).
            let firsts =
                offsets.contains(nil)
                ? try await admin.watermarks(topic: topic, partitions: description.partitions).map(\.low) : []
            for (index, offset) in offsets.enumerated() where configuration.lane?.reads(partition: index) ?? true {
                positions.append(
                    .init(topic: topic, partition: Int32(index), offset: .exactly(offset ?? firsts[index])))
            }
        }
        return positions
    }

    private func consume(from positions: [KafkaTopicPartitionOffset]) async throws {
        var consumerConfiguration = KafkaConsumerConfiguration(client: configuration.kafka, mode: .assign(positions))
        consumerConfiguration.fetchWaitMaxMilliseconds = configuration.fetchWaitMaxMilliseconds
        consumerConfiguration.maximumBatchSize = configuration.maximumBatchSize
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        do {
            try await withGracefulShutdownHandler {
                // The next batch is decoded and authenticated while this one's transaction runs.
                try await ConsumerBatch.pipeline(consumer, prepare: { await self.read($0) }) { batch, read in
                    try await self.applyBatch(batch, read: read)
                }
            } onGracefulShutdown: {
                consumer.stop()
            }
            await consumer.close()
        } catch {
            await consumer.close()
            throw error
        }
    }

    /// Applies records in one transaction with their offsets. Throws, leaving nothing behind, when the batch
    /// cannot be applied now.
    @discardableResult
    public func applyBatch(_ messages: [KafkaConsumerMessage]) async throws -> BatchOutcome {
        try await applyBatch(messages, read: await read(messages))
    }

    private func applyBatch(
        _ messages: [KafkaConsumerMessage], read: [Result<ProjectedEvent, ProjectionRejection>]
    ) async throws -> BatchOutcome {
        guard !messages.isEmpty else { return BatchOutcome() }
        var starts: [TopicPartition: Int64] = [:]
        var next: [TopicPartition: Int64] = [:]
        // A poll returns runs of one partition's records: the maps are touched once per run, not per record.
        var runStart = messages.startIndex
        for index in messages.indices {
            let (topic, partition) = (messages[index].topic, messages[index].partition)
            let runGoesOn =
                index + 1 < messages.endIndex && messages[index + 1].partition == partition
                && messages[index + 1].topic == topic
            guard !runGoesOn else { continue }
            let position = TopicPartition(topic: topic, partition: partition)
            if starts[position] == nil { starts[position] = messages[runStart].offset }
            next[position] = messages[index].offset + 1
            runStart = index + 1
        }
        let outcome: BatchOutcome
        do {
            outcome = try await postgres.withTransaction(logger: logger) { connection in
                try await self.offsets.claim(starts, on: connection, logger: self.logger)
                self.projection.beginBatch()
                var outcome = BatchOutcome()
                var events: [ProjectedEvent] = []
                events.reserveCapacity(read.count)
                var accepted: [Int] = []  // the message of each event
                accepted.reserveCapacity(read.count)
                for (index, result) in read.enumerated() {
                    switch result {
                    case .success(let event):
                        events.append(event)
                        accepted.append(index)
                    case .failure(let rejection):
                        try await self.deadLetter(messages[index], code: rejection.code, detail: rejection.detail)
                        outcome.deadLettered += 1
                    }
                }
                let rejected = try await self.apply(events, connection: connection)
                for (index, rejection) in rejected {
                    try await self.deadLetter(
                        messages[accepted[index]], code: rejection.code, detail: rejection.detail)
                }
                outcome.deadLettered += rejected.count
                outcome.applied += events.count - rejected.count
                try await self.offsets.store(next, on: connection, logger: self.logger)
                return outcome
            }
        } catch let error as PostgresTransactionError {
            // A stale writer is not a database failure: say so plainly.
            if let stale = error.closureError as? StaleProjectionWriter { throw stale }
            throw error
        }
        appliedCounter.increment(by: outcome.applied)
        try await projection.batchCommitted(logger: logger)
        return outcome
    }

    /// Decodes and authenticates each record; large batches on every core.
    private func read(_ messages: [KafkaConsumerMessage]) async -> [Result<ProjectedEvent, ProjectionRejection>] {
        await ConsumerBatch.map(messages) { self.read($0) }
    }

    private func read(_ message: KafkaConsumerMessage) -> Result<ProjectedEvent, ProjectionRejection> {
        let event: ProjectedEvent
        do {
            let envelope = try CloudEvent(kafkaMessage: message)
            event = ProjectedEvent(
                envelope: envelope,
                payload: try catalog.decode(envelope),
                topic: message.topic,
                partition: message.partition,
                offset: message.offset
            )
        } catch {
            return .failure(ProjectionRejection(code: error.code, detail: error.description))
        }
        if let authenticate = configuration.authenticate {
            do {
                try authenticate(event.envelope, event.payload)
            } catch {
                return .failure(error)
            }
        }
        return .success(event)
    }

    /// Applies the events as one batch; if the projection refuses one of them, or the database refuses a value,
    /// rolls the batch back and applies them one at a time, each in a savepoint. Returns the indexes of the events
    /// rejected, with why.
    private func apply(
        _ events: [ProjectedEvent], connection: PostgresConnection
    ) async throws -> [(Int, ProjectionRejection)] {
        guard !events.isEmpty else { return [] }
        try await connection.query("SAVEPOINT sigil_batch", logger: logger)
        do {
            try await projection.apply(batch: events, connection: connection, logger: logger)
            try await connection.query("RELEASE SAVEPOINT sigil_batch", logger: logger)
            return []
        } catch let error where Self.rejection(error) != nil {
            try await connection.query("ROLLBACK TO SAVEPOINT sigil_batch", logger: logger)
        }
        projection.beginBatch()
        var rejected: [(Int, ProjectionRejection)] = []
        for (index, event) in events.enumerated() {
            try await connection.query("SAVEPOINT sigil_event", logger: logger)
            do {
                try await projection.apply(event, connection: connection, logger: logger)
                try await connection.query("RELEASE SAVEPOINT sigil_event", logger: logger)
            } catch let error {
                // The database refuses this event's values (a data exception or a constraint): retrying cannot
                // help, and must not stop every later event. It is dead-lettered; the batch goes on.
                guard let rejection = Self.rejection(error) else { throw error }
                try await connection.query("ROLLBACK TO SAVEPOINT sigil_event", logger: logger)
                rejected.append((index, rejection))
            }
        }
        return rejected
    }

    /// The rejection an error stands for, if it is about the event rather than the database's health.
    static func rejection(_ error: any Error) -> ProjectionRejection? {
        if let rejection = error as? ProjectionRejection { return rejection }
        guard let error = error as? PSQLError, isPermanent(error) else { return nil }
        let state = error.serverInfo?[.sqlState] ?? "?"
        return ProjectionRejection(
            code: "unstorable-event", detail: "PostgreSQL refused the event's values (SQLSTATE \(state))")
    }

    /// SQLSTATE classes 22 (data exception: NUL in text, invalid text representation, out-of-range value) and 23
    /// (integrity constraint violation) are about the event, not the database's health.
    static func isPermanent(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("22") || state.hasPrefix("23")
    }

    private func deadLetter(_ message: KafkaConsumerMessage, code: String, detail: String) async throws {
        try await DeadLetterWriter(
            producer: producer,
            topic: configuration.deadLetterTopic,
            source: source,
            consumer: "\(source.service)/\(projection.name)",
            sign: configuration.sign
        ).write(message, code: code, detail: detail, logger: logger)
    }
}
