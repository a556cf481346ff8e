import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects every event of every topic into `audit.events`: a batch is one `COPY` (text rows written straight into a
/// buffer), in the runner's transaction with the offsets. Records are chained per tenant and
/// partition (`AuditChainID`); the heads of the batch's partitions are read in that transaction, after the runner has
/// claimed the partitions' offsets (so no other replica can move them until it ends). Heads kept in memory between
/// batches went stale when another replica committed between this one's reload of the heads and of the offsets: its
/// next records then took sequences already used, and the unique violation dead-lettered them. An event is recorded
/// once, by its id: a second
/// record with an id already in the log (a service killed after publishing and before committing its offset handles
/// the record again and publishes the same event, with the same derived id; a producer retry; a replay) is counted
/// (`sigil.audit.duplicates`) and skipped, so every decision is in the log exactly once. The batch is inserted without
/// looking its ids up; only when the unique index on (tenant, event_id) refuses one is it rolled back to a savepoint,
/// its recorded ids read, and inserted again without them. What a replay caused (the
/// attestation service's refusal of a replayed request) has an id of its own and is recorded.
final class AuditProjection: Projection {
    let name = "audit-log"
    let schema: SchemaName
    private let postgres: PostgresClient
    /// Records of the transaction under way, counted into `recorded` when it commits.
    private let pending = Atomic<Int>(0)
    private let recordedCount = Atomic<Int>(0)

    init(schema: SchemaName, postgres: PostgresClient) {
        self.schema = schema
        self.postgres = postgres
    }

    func start(logger: Logger) async throws {
        beginBatch()
    }

    /// Every chain's head as committed.
    static func heads(
        schema: SchemaName, postgres: PostgresClient, logger: Logger
    ) async throws -> [AuditChainID: AuditChainHead] {
        try await decodeHeads(
            try await postgres.query(
                "SELECT tenant, topic, partition, sequence, hash FROM \(unescaped: schema.rawValue).chain_heads",
                logger: logger))
    }

    /// Rows of `chain_heads` (tenant, topic, partition, sequence, hash), by chain.
    private static func decodeHeads(_ rows: PostgresRowSequence) async throws -> [AuditChainID: AuditChainHead] {
        var loaded: [AuditChainID: AuditChainHead] = [:]
        for try await (tenant, topic, partition, sequence, hash) in rows.decode(
            (String, String, Int32, Int64, ByteBuffer).self)
        {
            loaded[AuditChainID(tenant: tenant, topic: topic, partition: partition)] = AuditChainHead(
                sequence: sequence, hash: Array(buffer: hash))
        }
        return loaded
    }

    func beginBatch() {
        pending.store(0, ordering: .relaxed)
    }

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        try await apply(batch: [event], connection: connection, logger: logger)
    }

    func apply(batch events: [ProjectedEvent], connection: PostgresConnection, logger: Logger) async throws {
        let current = try await heads(of: events, connection: connection, logger: logger)
        // Most batches hold no event already in the log: insert at once, and look the ids up only when the unique
        // index on (tenant, event_id) refuses one.
        var chained = try Self.chain(events, from: current, skipping: [])
        try await connection.query("SAVEPOINT sigil_audit_insert", logger: logger)
        do {
            try await insert(chained.records, connection: connection, logger: logger)
            try await connection.query("RELEASE SAVEPOINT sigil_audit_insert", logger: logger)
        } catch let error as PSQLError where Self.isRecordedAlready(error) {
            try await connection.query("ROLLBACK TO SAVEPOINT sigil_audit_insert", logger: logger)
            let recorded = try await recordedIDs(of: events, connection: connection, logger: logger)
            chained = try Self.chain(events, from: current, skipping: recorded)
            try await insert(chained.records, connection: connection, logger: logger)
        }
        if chained.duplicates > 0 {
            Counter(label: "sigil.audit.duplicates").increment(by: chained.duplicates)
            logger.debug("events already in the audit log skipped", metadata: ["count": "\(chained.duplicates)"])
        }
        try await store(chained.moved, connection: connection, logger: logger)
        pending.add(chained.records.count, ordering: .relaxed)
    }

    /// The records of `events` continuing their chains from `heads`, and where the chains end; an event in
    /// `recorded`, or twice in the batch, is left out (and counted).
    private static func chain(
        _ events: [ProjectedEvent], from heads: [AuditChainID: AuditChainHead], skipping recorded: Set<EventKey>
    ) throws -> (records: [AuditRecord], moved: [AuditChainID: AuditChainHead], duplicates: Int) {
        var seen = recorded
        var moved: [AuditChainID: AuditChainHead] = [:]
        var current: (chain: AuditChainID, head: AuditChainHead)?
        var records: [AuditRecord] = []
        records.reserveCapacity(events.count)
        var duplicates = 0
        for event in events {
            let envelope = event.envelope
            guard seen.insert(EventKey(tenant: envelope.tenant, id: envelope.id)).inserted else {
                duplicates += 1
                continue
            }
            // Stored as text, as received: bytes that are not UTF-8 could not be kept exactly (nor their signature
            // checked again), and PostgreSQL text holds no NUL.
            guard (try? UTF8Span(validating: envelope.data.span)) != nil, !envelope.data.contains(0) else {
                throw ProjectionRejection(code: "unstorable-event", detail: "the event's data is not UTF-8 text")
            }
            let chain = AuditChainID(tenant: envelope.tenant, topic: event.topic, partition: event.partition)
            // Records come in runs of one chain: its head is looked up when a run starts, not for every record.
            let head: AuditChainHead
            if let current, current.chain == chain {
                head = current.head
            } else {
                if let current { moved[current.chain] = current.head }
                head = moved[chain] ?? heads[chain] ?? .genesis
            }
            let sequence = head.sequence + 1
            let (outcome, clientWorkload, serverWorkload) = AuditRecord.classify(event.payload)
            let hash = AuditChain.hash(
                previous: head.hash, chain: chain, sequence: sequence, offset: event.offset, event: envelope)
            records.append(
                AuditRecord(
                    chain: chain, sequence: sequence, offset: event.offset, event: envelope, outcome: outcome,
                    clientWorkload: clientWorkload, serverWorkload: serverWorkload, previousHash: head.hash,
                    hash: hash))
            current = (chain, AuditChainHead(sequence: sequence, hash: hash))
        }
        if let current { moved[current.chain] = current.head }
        return (records, moved, duplicates)
    }

    /// The unique index on (tenant, event_id) refused a row: an event of the batch is in the log already.
    private static func isRecordedAlready(_ error: PSQLError) -> Bool {
        error.serverInfo?[.sqlState] == "23505" && error.serverInfo?[.constraintName] == "audit_events_id"
    }

    func batchCommitted(logger: Logger) async throws {
        recordedCount.add(pending.exchange(0, ordering: .relaxed), ordering: .relaxed)
    }

    /// Records committed since start.
    var recorded: Int { recordedCount.load(ordering: .relaxed) }

    private struct EventKey: Hashable {
        let tenant: String
        let id: String
    }

    /// The heads of the chains of the events' partitions, as committed (or moved earlier in this transaction).
    private func heads(
        of events: [ProjectedEvent], connection: PostgresConnection, logger: Logger
    ) async throws -> [AuditChainID: AuditChainHead] {
        let partitions = Array(Set(events.map { TopicPartition(topic: $0.topic, partition: $0.partition) }))
        guard !partitions.isEmpty else { return [:] }
        return try await Self.decodeHeads(
            try await connection.query(
                """
                SELECT tenant, topic, partition, sequence, hash FROM \(unescaped: schema.rawValue).chain_heads
                WHERE (topic, partition) IN (SELECT * FROM unnest(\(partitions.map(\.topic)), \(partitions.map(\.partition))))
                """,
                logger: logger))
    }

    /// The batch's events already in the log (one indexed lookup per batch, in its transaction).
    private func recordedIDs(
        of events: [ProjectedEvent], connection: PostgresConnection, logger: Logger
    ) async throws -> Set<EventKey> {
        guard !events.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            SELECT tenant, event_id FROM \(unescaped: schema.rawValue).events
            WHERE (tenant, event_id) IN (SELECT * FROM unnest(\(events.map(\.envelope.tenant)), \(events.map(\.envelope.id))))
            """,
            logger: logger
        )
        var recorded: Set<EventKey> = []
        for try await (tenant, id) in rows.decode((String, String).self) {
            recorded.insert(EventKey(tenant: tenant, id: id))
        }
        return recorded
    }

    private func store(
        _ moved: [AuditChainID: AuditChainHead], connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !moved.isEmpty else { return }
        let entries = Array(moved)
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).chain_heads (tenant, topic, partition, sequence, hash)
            SELECT * FROM unnest(\(entries.map(\.key.tenant)), \(entries.map(\.key.topic)),
                \(entries.map(\.key.partition)), \(entries.map(\.value.sequence)),
                \(entries.map { ByteBuffer(bytes: $0.value.hash) }))
            ON CONFLICT (tenant, topic, partition) DO UPDATE SET sequence = excluded.sequence, hash = excluded.hash
            """,
            logger: logger
        )
    }

    /// One `COPY ... FROM STDIN` (text format, `AuditRowsCopy`). postgres-nio names the table unqualified, so the
    /// transaction's search path is set to the audit schema first (`SET LOCAL`: it ends with the transaction).
    private func insert(_ records: [AuditRecord], connection: PostgresConnection, logger: Logger) async throws {
        guard !records.isEmpty else { return }
        let rows = AuditRowsCopy.rows(records)
        try await connection.query("SET LOCAL search_path TO \(unescaped: schema.rawValue)", logger: logger)
        try await connection.copyFrom(table: "events", columns: AuditRowsCopy.columns, logger: logger) { writer in
            try await writer.write(rows)
        }
    }
}
