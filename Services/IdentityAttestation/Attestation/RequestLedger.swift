import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilProjection

/// The access requests attestation has taken, by tenant and request id, until their deadline: a request id is
/// attested once. Kept in PostgreSQL (schema `attest`), so every replica and every restart sees the same ledger; the
/// same record delivered again (same event id, after a crash before its offset was committed) is not a replay.
struct RequestLedger: Sendable {
    let schema: SchemaName
    let postgres: PostgresClient

    enum Entry: Equatable {
        /// First time this request id is seen (or the same event again).
        case new
        /// Another event already claimed this request id.
        case replayed
    }

    func record(
        tenant: String, requestID: String, eventID: String, deadline: Deadline, logger: Logger
    ) async throws
        -> Entry
    {
        let rows = try await postgres.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).seen_requests (tenant, request_id, event_id, expires_at)
            VALUES (\(tenant), \(requestID), \(eventID), \(deadline.date))
            ON CONFLICT (tenant, request_id) DO UPDATE SET event_id = seen_requests.event_id
            RETURNING event_id
            """,
            logger: logger
        )
        var claimedBy: String?
        for try await id in rows.decode(String.self) { claimedBy = id }
        // Now and then, forget requests whose deadline is long past (they are refused by their deadline anyway).
        if Int.random(in: 0..<256) == 0 {
            try await postgres.query(
                "DELETE FROM \(unescaped: schema.rawValue).seen_requests WHERE expires_at < now() - interval '10 minutes'",
                logger: logger)
        }
        return claimedBy == eventID ? .new : .replayed
    }

    static let migration = Migration(version: 3, name: "access requests already taken (replay ledger)") { schema in
        [
            """
            CREATE TABLE \(unescaped: schema.rawValue).seen_requests (
                tenant text NOT NULL,
                request_id text NOT NULL,
                event_id text NOT NULL,
                expires_at timestamptz NOT NULL,
                PRIMARY KEY (tenant, request_id))
            """,
            "CREATE INDEX seen_requests_expiry ON \(unescaped: schema.rawValue).seen_requests (expires_at)",
        ]
    }
}
