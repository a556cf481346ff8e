import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects every event of every topic into `audit.events`, chained per tenant: each row's hash covers the
/// previous row's hash, so any edit or deletion breaks the chain from there on. Redelivered events (same id) are
/// recorded once.
final class AuditProjection: Projection {
    let name = "audit-log"
    let schema: SchemaName
    let streams: LogStreamWriter
    private let appended = Mutex<[(tenant: String, record: AuditRecord)]>([])

    init(schema: SchemaName, streams: LogStreamWriter) {
        self.schema = schema
        self.streams = streams
    }

    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        let envelope = event.envelope
        let table = "\(schema.rawValue).events"
        let existing = try await connection.query(
            "SELECT 1 FROM \(unescaped: table) WHERE tenant = \(envelope.tenant) AND event_id = \(envelope.id)",
            logger: logger
        )
        for try await _ in existing { return }

        // One appender per tenant chain at a time, across replicas (which may hold other partitions of the same
        // tenant): the lock lasts until the batch commits, so the next appender reads this row as the chain's head.
        try await connection.query(
            "SELECT pg_advisory_xact_lock(hashtext(\(table + "/" + envelope.tenant)))", logger: logger)
        var previousSequence: Int64 = 0
        var previousHash = AuditRecord.genesis
        let last = try await connection.query(
            "SELECT sequence, encode(hash, 'hex') FROM \(unescaped: table) WHERE tenant = \(envelope.tenant) ORDER BY sequence DESC LIMIT 1",
            logger: logger
        )
        for try await (sequence, hash) in last.decode((Int64, String).self) {
            previousSequence = sequence
            previousHash = hash
        }
        guard let data = try? EventJSON.decoder.decode(JSONValue.self, from: Data(envelope.data)) else {
            throw ProjectionRejection(code: "invalid-data", detail: "event data is not JSON")
        }
        let (outcome, clientWorkload) = AuditRecord.classify(event.payload)
        let sequence = previousSequence + 1
        let hash = AuditRecord.chainHash(
            previous: previousHash, sequence: sequence, id: envelope.id, type: envelope.type.description,
            source: envelope.source, subject: envelope.subject, time: envelope.time, data: data
        )
        let dataText = String(decoding: try EventJSON.encoder.encode(data), as: UTF8.self)
        try await connection.query(
            """
            INSERT INTO \(unescaped: table) (tenant, sequence, event_id, event_type, source, subject, occurred_at, topic,
                partition, kafka_offset, data, outcome, client_workload, previous_hash, hash)
            VALUES (\(envelope.tenant), \(sequence), \(envelope.id), \(envelope.type.description), \(envelope.source),
                \(envelope.subject), \(envelope.time), \(event.topic), \(event.partition), \(event.offset), \(dataText)::jsonb,
                \(outcome), \(clientWorkload), decode(\(previousHash), 'hex'), decode(\(hash), 'hex'))
            """,
            logger: logger
        )
        let record = AuditRecord(
            sequence: sequence, id: envelope.id, type: envelope.type.description, source: envelope.source,
            subject: envelope.subject, time: envelope.time, outcome: outcome, clientWorkload: clientWorkload,
            data: data,
            previousHash: previousHash, hash: hash
        )
        appended.withLock { $0.append((envelope.tenant, record)) }
    }

    func batchCommitted(logger: Logger) async throws {
        let records = appended.withLock { records in
            defer { records.removeAll() }
            return records
        }
        streams.write(records, logger: logger)
    }
}
