import Foundation
import Hummingbird
import PostgresNIO
import SigilEvents
import SigilProjection
import SigilService

/// `GET /v1/audit/events`: the tenant's audit log, oldest first, filtered by `since` (RFC 3339), `type`,
/// `clientWorkload`, `outcome`; paginated with `after` (a sequence) and `limit` (1-500, default 100).
/// `GET /v1/audit/verify`: recomputes the tenant's hash chain and says where it breaks, if anywhere.
struct AuditQueryController {
    let schema: SchemaName
    let postgres: PostgresClient

    func add(to group: RouterGroup<AdminRequestContext>) {
        group.get("/audit/events") { request, context in
            let principal = try context.requirePrincipal()
            let query = request.uri.queryParameters
            let limit = try Self.int(query["limit"].map(String.init), name: "limit", in: 1...500) ?? 100
            let after =
                try Self.int(query["after"].map(String.init), name: "after", in: 0...9_000_000_000_000_000) ?? 0
            let outcome = query["outcome"].map(String.init)
            if let outcome, !AuditRecord.outcomes.contains(outcome) {
                throw ProblemDetails.invalidField(
                    "outcome", "outcome must be one of \(AuditRecord.outcomes.joined(separator: ", "))")
            }
            for (name, maximum) in [("type", 200), ("clientWorkload", 63)] {
                guard let value = query[Substring(name)] else { continue }
                if value.count > maximum {
                    throw ProblemDetails.invalidField(name, "\(name) must be at most \(maximum) characters")
                }
                if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                    throw ProblemDetails.invalidField(name, "\(name) must not contain control characters")
                }
            }
            var since: Date?
            if let text = query["since"].map(String.init) {
                guard let date = try? Date(text, strategy: .iso8601) else {
                    throw ProblemDetails.invalidField("since", "since must be an RFC 3339 timestamp")
                }
                since = date
            }
            let records = try await fetch(
                tenant: principal.tenant, after: Int64(after), limit: limit, since: since,
                type: query["type"].map(String.init), clientWorkload: query["clientWorkload"].map(String.init),
                outcome: outcome, logger: context.logger
            )
            struct Page: Encodable {
                let items: [AuditRecord]
                let next: String?
            }
            let next = records.count == limit ? records.last.map { "after=\($0.sequence)" } : nil
            return OperationsController.json(.ok, Page(items: records, next: next))
        }
        group.get("/audit/verify") { _, context in
            let principal = try context.requirePrincipal()
            return OperationsController.json(.ok, try await verify(tenant: principal.tenant, logger: context.logger))
        }
        group.refuseOtherMethods("/audit/events", allowed: [.get])
        group.refuseOtherMethods("/audit/verify", allowed: [.get])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/audit/events": [
            "get": APIOperation(
                "The tenant's audit log, oldest first",
                parameters: [
                    APIOperation.query(
                        "since", ["type": "string", "format": "date-time"], "RFC 3339: records from then."),
                    APIOperation.query(
                        "type", ["type": "string", "maxLength": 200],
                        "CloudEvents type, e.g. dev.sigil.access.granted.v1"),
                    APIOperation.query(
                        "clientWorkload", ["type": "string", "maxLength": 63], "Records of one client workload."),
                    APIOperation.query(
                        "outcome", ["type": "string", "enum": .array(AuditRecord.outcomes.map(JSONValue.string))],
                        "Records of one outcome."),
                    APIOperation.query(
                        "after", ["type": "integer", "minimum": 0, "maximum": 9_000_000_000_000_000],
                        "Sequence to continue after (pagination)."),
                    APIOperation.query(
                        "limit", ["type": "integer", "minimum": 1, "maximum": 500, "default": 100], "Page size."),
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "A page of records; `next` holds the query for the next page.", APIResponse.ref("AuditPage")),
                    422: APIResponse.shared("Invalid"),
                ]) { first, _ in first })
        ],
        "/v1/audit/verify": [
            "get": APIOperation(
                "Recompute the tenant's hash chain",
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "Whether the chain holds, and where it breaks if not.", APIResponse.ref("AuditVerification"))
                ]) { first, _ in first })
        ],
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "AuditPage": [
            "type": "object", "required": ["items"],
            "properties": [
                "items": ["type": "array", "items": APIResponse.ref("AuditRecord")],
                "next": ["type": ["string", "null"]],
            ],
        ],
        "AuditRecord": [
            "type": "object", "required": ["sequence", "id", "type", "source", "time", "data", "previousHash", "hash"],
            "properties": [
                "sequence": ["type": "integer"], "id": ["type": "string"], "type": ["type": "string"],
                "source": ["type": "string"], "subject": ["type": ["string", "null"]],
                "time": ["type": "string", "format": "date-time"], "outcome": ["type": ["string", "null"]],
                "clientWorkload": ["type": ["string", "null"]], "data": ["type": "object"],
                "previousHash": ["type": "string"], "hash": ["type": "string"],
            ],
        ],
        "AuditVerification": [
            "type": "object", "required": ["verified", "records"],
            "properties": [
                "verified": ["type": "boolean"], "records": ["type": "integer"],
                "brokenAt": ["type": ["integer", "null"]],
            ],
        ],
    ]

    private func fetch(
        tenant: String, after: Int64, limit: Int, since: Date?, type: String?, clientWorkload: String?,
        outcome: String?,
        logger: Logger
    ) async throws -> [AuditRecord] {
        let rows = try await postgres.query(
            """
            SELECT sequence, event_id, event_type, source, subject, occurred_at, outcome, client_workload, data::text,
                encode(previous_hash, 'hex'), encode(hash, 'hex')
            FROM \(unescaped: schema.rawValue).events
            WHERE tenant = \(tenant) AND sequence > \(after)
              AND (\(since)::timestamptz IS NULL OR occurred_at >= \(since))
              AND (\(type)::text IS NULL OR event_type = \(type))
              AND (\(clientWorkload)::text IS NULL OR client_workload = \(clientWorkload))
              AND (\(outcome)::text IS NULL OR outcome = \(outcome))
            ORDER BY sequence LIMIT \(limit)
            """,
            logger: logger
        )
        var records: [AuditRecord] = []
        for try await row in rows.decode(
            (Int64, String, String, String, String?, Date, String?, String?, String, String, String).self)
        {
            records.append(
                AuditRecord(
                    sequence: row.0, id: row.1, type: row.2, source: row.3, subject: row.4, time: row.5, outcome: row.6,
                    clientWorkload: row.7, data: try EventJSON.decoder.decode(JSONValue.self, from: Data(row.8.utf8)),
                    previousHash: row.9, hash: row.10
                )
            )
        }
        return records
    }

    struct Verification: Encodable {
        let verified: Bool
        let records: Int
        let brokenAt: Int64?
    }

    private func verify(tenant: String, logger: Logger) async throws -> Verification {
        var previous = AuditRecord.genesis
        var count = 0
        var after: Int64 = 0
        while true {
            let page = try await fetch(
                tenant: tenant, after: after, limit: 500, since: nil, type: nil, clientWorkload: nil, outcome: nil,
                logger: logger)
            for record in page {
                let expected = AuditRecord.chainHash(
                    previous: previous, sequence: record.sequence, id: record.id, type: record.type,
                    source: record.source,
                    subject: record.subject, time: record.time, data: record.data
                )
                guard record.previousHash == previous, record.hash == expected else {
                    return Verification(verified: false, records: count, brokenAt: record.sequence)
                }
                previous = record.hash
                count += 1
            }
            guard page.count == 500, let last = page.last else { break }
            after = last.sequence
        }
        return Verification(verified: true, records: count, brokenAt: nil)
    }

    static func int(_ text: String?, name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw ProblemDetails.invalidField(
                name, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }
}
