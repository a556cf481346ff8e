import Foundation
import Hummingbird
import Logging
import PostgresNIO
import SigilEvents
import SigilProjection
import SigilService

/// What `GET /v1/audit/events` selects: a time range, event type, workloads, outcome; a page after a cursor.
struct AuditFilter: Sendable {
    var since: Date?
    var until: Date?
    var type: String?
    var clientWorkload: String?
    var serverWorkload: String?
    var outcome: String?
    var after: AuditCursor?
    var limit = 100

    init() {}

    init(_ query: Hummingbird.Parameters) throws {
        func text(_ name: String, maximum: Int) throws -> String? {
            guard let value = query[Substring(name)].map(String.init) else { return nil }
            if value.count > maximum {
                throw ProblemDetails.invalidField(name, "\(name) must be at most \(maximum) characters")
            }
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw ProblemDetails.invalidField(name, "\(name) must not contain control characters")
            }
            return value
        }
        func time(_ name: String) throws -> Date? {
            guard let value = try text(name, maximum: 64) else { return nil }
            guard let date = CloudEvent.parseTime(value) else {
                throw ProblemDetails.invalidField(name, "\(name) must be an RFC 3339 timestamp")
            }
            return date
        }
        since = try time("since")
        until = try time("until")
        type = try text("type", maximum: 200)
        clientWorkload = try text("clientWorkload", maximum: 63)
        serverWorkload = try text("serverWorkload", maximum: 63)
        outcome = try text("outcome", maximum: 40)
        if let outcome, !AuditRecord.outcomes.contains(outcome) {
            throw ProblemDetails.invalidField(
                "outcome", "outcome must be one of \(AuditRecord.outcomes.joined(separator: ", "))")
        }
        if let cursor = try text("cursor", maximum: 400) {
            guard let parsed = AuditCursor(text: cursor) else {
                throw ProblemDetails.invalidField("cursor", "cursor must be a `next` value this API returned")
            }
            after = parsed
        }
        if let value = try text("limit", maximum: 8) {
            guard let limit = Int(value), (1...1000).contains(limit) else {
                throw ProblemDetails.invalidField("limit", "limit must be an integer from 1 to 1000")
            }
            self.limit = limit
        }
    }

    static let openAPIParameters: [JSONValue] = [
        APIOperation.query("since", ["type": "string", "format": "date-time"], "RFC 3339: records from then on."),
        APIOperation.query("until", ["type": "string", "format": "date-time"], "RFC 3339: records before then."),
        APIOperation.query(
            "type", ["type": "string", "maxLength": 200], "CloudEvents type, e.g. dev.sigil.access.granted.v2"),
        APIOperation.query("clientWorkload", ["type": "string", "maxLength": 63], "Records of one client workload."),
        APIOperation.query("serverWorkload", ["type": "string", "maxLength": 63], "Records of one server workload."),
        APIOperation.query(
            "outcome", ["type": "string", "enum": .array(AuditRecord.outcomes.map(JSONValue.string))],
            "Records of one outcome."),
        APIOperation.query(
            "cursor", ["type": "string", "maxLength": 400], "The `next` of the previous page: continue after it."),
        APIOperation.query(
            "limit", ["type": "integer", "minimum": 1, "maximum": 1000, "default": 100], "Page size."),
    ]
}

/// Reads audit records.
struct AuditQuery: Sendable {
    let schema: SchemaName
    let postgres: PostgresClient

    func records(tenant: String, filter: AuditFilter, logger: Logger) async throws -> [AuditRecord] {
        let after = filter.after
        let rows = try await postgres.query(
            """
            SELECT \(unescaped: AuditRecord.columns) FROM \(unescaped: schema.rawValue).events
            WHERE tenant = \(tenant)
              AND (\(filter.since)::timestamptz IS NULL OR occurred_at >= \(filter.since))
              AND (\(filter.until)::timestamptz IS NULL OR occurred_at < \(filter.until))
              AND (\(filter.type)::text IS NULL OR event_type = \(filter.type))
              AND (\(filter.clientWorkload)::text IS NULL OR client_workload = \(filter.clientWorkload))
              AND (\(filter.serverWorkload)::text IS NULL OR server_workload = \(filter.serverWorkload))
              AND (\(filter.outcome)::text IS NULL OR outcome = \(filter.outcome))
              AND (\(after?.microseconds)::bigint IS NULL
                OR (occurred_at, topic, partition, sequence) >
                   (timestamptz 'epoch' + \(after?.microseconds ?? 0) * interval '1 microsecond',
                    \(after?.topic ?? ""), \(after?.partition ?? 0), \(after?.sequence ?? 0)))
            ORDER BY occurred_at, topic, partition, sequence LIMIT \(filter.limit)
            """,
            logger: logger
        )
        var records: [AuditRecord] = []
        for try await row in rows { records.append(try AuditRecord(row: row)) }
        return records
    }
}
