import Foundation
import Logging
import Metrics
import NIOCore
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects every event of every topic into `audit.events`: a batch is one multi-row insert (arrays bound as
/// parameters and unnested), in the runner's transaction with the offsets. Records are chained per tenant and
/// partition (`AuditChainID`); the heads of the batch's partitions are read in that transaction, after the runner has
/// claimed the partitions' offsets (so no other replica can move them until it ends). Heads kept in memory between
/// batches went stale when another replica committed between this one's reload of the heads and of the offsets: its
/// next records then took sequences already used, and the unique violation dead-lettered them. An event is recorded
/// once, by its id: a second
/// record with an id already in the log (a service killed after publishing and before committing its offset handles
/// the record again and publishes the same event, with the same derived id; a producer retry; a replay) is counted
/// (`sigil.audit.duplicates`) and skipped, so every decision is in the log exactly once. What a replay caused (the
/// attestation service's refusal of a replayed request) has an id of its own and is recorded.
final class AuditProjection: Projection {
    let name = "audit-log"
    let schema: SchemaName
    private let postgres: PostgresClient
    private let committed: @Sendable ([AuditRecord]) -> Void
    private let appended = Mutex<[AuditRecord]>([])
    private let recordedCount = Atomic<Int>(0)

    /// `committed` is told each batch's records once they are durable (for the in-process log-stream wake-up).
    init(
        schema: SchemaName, postgres: PostgresClient, committed: @escaping @Sendable ([AuditRecord]) -> Void = { _ in }
    ) {
        self.schema = schema
        self.postgres = postgres
        self.committed = committed
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
        appended.withLock { $0.removeAll() }
    }

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        try await apply(batch: [event], connection: connection, logger: logger)
    }

    func apply(batch events: [ProjectedEvent], connection: PostgresConnection, logger: Logger) async throws {
        let current = try await heads(of: events, connection: connection, logger: logger)
        var moved: [AuditChainID: AuditChainHead] = [:]
        var records: [AuditRecord] = []
        records.reserveCapacity(events.count)
        var seen = try await recordedIDs(of: events, connection: connection, logger: logger)
        var duplicates = 0
        for event in events {
            let envelope = event.envelope
            guard seen.insert(EventKey(tenant: envelope.tenant, id: envelope.id)).inserted else {
                duplicates += 1
                continue
            }
            // Stored as text, as received: bytes that are not UTF-8 could not be kept exactly (nor their signature
            // checked again), and PostgreSQL text holds no NUL.
            guard let text = String(validating: envelope.data, as: UTF8.self), !text.utf8.contains(0) else {
                throw ProjectionRejection(code: "unstorable-event", detail: "the event's data is not UTF-8 text")
            }
            let chain = AuditChainID(tenant: envelope.tenant, topic: event.topic, partition: event.partition)
            let head = moved[chain] ?? current[chain] ?? .genesis
            let sequence = head.sequence + 1
            let (outcome, clientWorkload, serverWorkload) = AuditRecord.classify(event.payload)
            let hash = AuditChain.hash(
                previous: head.hash, chain: chain, sequence: sequence, offset: event.offset, event: envelope)
            records.append(
                AuditRecord(
                    chain: chain, sequence: sequence, offset: event.offset, event: envelope, outcome: outcome,
                    clientWorkload: clientWorkload, serverWorkload: serverWorkload, previousHash: head.hash,
                    hash: hash))
            moved[chain] = AuditChainHead(sequence: sequence, hash: hash)
        }
        if duplicates > 0 {
            Counter(label: "sigil.audit.duplicates").increment(by: duplicates)
            logger.debug("events already in the audit log skipped", metadata: ["count": "\(duplicates)"])
        }
        try await insert(records, connection: connection, logger: logger)
        try await store(moved, connection: connection, logger: logger)
        appended.withLock { $0.append(contentsOf: records) }
    }

    func batchCommitted(logger: Logger) async throws {
        let records = appended.withLock { records in
            defer { records.removeAll() }
            return records
        }
        recordedCount.add(records.count, ordering: .relaxed)
        if !records.isEmpty { committed(records) }
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

    private func insert(_ records: [AuditRecord], connection: PostgresConnection, logger: Logger) async throws {
        guard !records.isEmpty else { return }
        func column<T>(_ value: (AuditRecord) -> T) -> [T] { records.map(value) }
        // Arrays cannot hold NULL through this binding: absent optional text is bound as '' and stored as NULL
        // (what the signature covers treats an absent subject or traceparent as empty, so nothing is lost).
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).events (tenant, topic, partition, sequence, kafka_offset,
                event_id, event_type, source, subject, partition_key, traceparent, content_type, time_attribute,
                occurred_at, data, signature, outcome, client_workload, server_workload, previous_hash, hash)
            SELECT tenant, topic, partition, sequence, kafka_offset, event_id, event_type, source, NULLIF(subject, ''),
                partition_key, NULLIF(traceparent, ''), content_type, time_attribute, occurred_at, data,
                NULLIF(signature, ''), NULLIF(outcome, ''), NULLIF(client_workload, ''), NULLIF(server_workload, ''),
                previous_hash, hash
            FROM unnest(\(column(\.chain.tenant)), \(column(\.chain.topic)), \(column(\.chain.partition)),
                \(column(\.sequence)), \(column(\.offset)), \(column(\.event.id)), \(column(\.event.type.description)),
                \(column(\.event.source)), \(column { $0.event.subject ?? "" }), \(column(\.event.partitionKey)),
                \(column { $0.event.traceparent ?? "" }), \(column(\.event.dataContentType)),
                \(column(\.event.timeAttribute)), \(column(\.event.time)),
                \(column { String(decoding: $0.event.data, as: UTF8.self) }), \(column { $0.event.signature ?? "" }),
                \(column { $0.outcome ?? "" }), \(column { $0.clientWorkload ?? "" }),
                \(column { $0.serverWorkload ?? "" }), \(column { ByteBuffer(bytes: $0.previousHash) }),
                \(column { ByteBuffer(bytes: $0.hash) }))
                AS t(tenant, topic, partition, sequence, kafka_offset, event_id, event_type, source, subject,
                    partition_key, traceparent, content_type, time_attribute, occurred_at, data, signature, outcome,
                    client_workload, server_workload, previous_hash, hash)
            """,
            logger: logger
        )
    }
}
