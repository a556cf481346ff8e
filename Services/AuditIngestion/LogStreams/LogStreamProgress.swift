import Foundation
import Logging
import PostgresNIO
import SigilProjection
import SigilService

/// A log stream's delivery state in the audit schema: the lease that makes one replica its deliverer, its position
/// in every chain it carries, and how delivery went.
struct LogStreamProgress: Sendable {
    let schema: SchemaName
    let postgres: PostgresClient
    /// The stream's tenant.
    let tenant: String
    let streamUID: String
    let name: String
    /// This replica (`SIGIL_INSTANCE_ID`).
    let owner: String
    /// Whose chains it carries: its tenant's, the listed tenants' (a platform operator's stream), or nil: every one.
    let chainTenants: [String]?
    static let lease = 15  // seconds

    /// A stream's progress, carrying the chains of its own tenant, or of the tenants its filter names (`*`: all).
    init(_ stream: Resource<LogStreamSpec>, schema: SchemaName, postgres: PostgresClient, owner: String) {
        self.schema = schema
        self.postgres = postgres
        self.tenant = stream.metadata.tenant
        self.streamUID = stream.metadata.uid
        self.name = stream.name
        self.owner = owner
        let tenants = stream.spec.filter?.tenants ?? [tenant]
        self.chainTenants = tenants.contains("*") ? nil : tenants
    }

    /// Bound into `(everyTenant OR h.tenant = ANY(tenants))`: whether chain head `h` is one this stream carries.
    private var everyTenant: Bool { chainTenants == nil }
    private var tenants: [String] { chainTenants ?? [] }

    /// Takes or renews the lease; false while another live replica holds it.
    func acquire(logger: Logger) async throws -> Bool {
        let rows = try await postgres.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).log_stream_state (tenant, stream_uid, name, owner, lease_until)
            VALUES (\(tenant), \(streamUID), \(name), \(owner), now() + \(Self.lease) * interval '1 second')
            ON CONFLICT (tenant, stream_uid) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
            WHERE log_stream_state.owner = excluded.owner OR log_stream_state.lease_until < now()
            RETURNING owner
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    /// The next records not yet delivered, chain by chain, oldest first within each chain.
    func pending(limit: Int, logger: Logger) async throws -> [AuditRecord] {
        let chains = try await postgres.query(
            """
            SELECT h.tenant, h.topic, h.partition, COALESCE(p.delivered_sequence, 0)
            FROM \(unescaped: schema.rawValue).chain_heads h
            LEFT JOIN \(unescaped: schema.rawValue).log_stream_positions p
              ON p.tenant = h.tenant AND p.stream_uid = \(streamUID) AND p.topic = h.topic AND p.partition = h.partition
            WHERE (\(everyTenant) OR h.tenant = ANY(\(tenants))) AND h.sequence > COALESCE(p.delivered_sequence, 0)
            ORDER BY h.tenant, h.topic, h.partition
            """,
            logger: logger
        )
        var behind: [(String, String, Int32, Int64)] = []
        for try await chain in chains.decode((String, String, Int32, Int64).self) { behind.append(chain) }
        var records: [AuditRecord] = []
        for (chainTenant, topic, partition, delivered) in behind where records.count < limit {
            let rows = try await postgres.query(
                """
                SELECT \(unescaped: AuditRecord.columns) FROM \(unescaped: schema.rawValue).events
                WHERE tenant = \(chainTenant) AND topic = \(topic) AND partition = \(partition) AND sequence > \(delivered)
                ORDER BY sequence LIMIT \(limit - records.count)
                """,
                logger: logger
            )
            for try await row in rows { records.append(try AuditRecord(row: row)) }
        }
        return records
    }

    /// Moves the positions past `records` and counts `delivered` of them, if this replica still holds the lease
    /// (else nothing moves: the new holder delivers them again, at least once).
    func advance(past records: [AuditRecord], delivered: Int, logger: Logger) async throws {
        var last: [AuditChainID: Int64] = [:]
        for record in records { last[record.chain] = max(last[record.chain] ?? 0, record.sequence) }
        let chains = Array(last)
        try await postgres.withTransaction(logger: logger) { connection in
            let held = try await connection.query(
                """
                UPDATE \(unescaped: schema.rawValue).log_stream_state
                SET delivered = delivered + \(delivered), last_delivery_at = now(), failures = 0,
                    lease_until = now() + \(Self.lease) * interval '1 second'
                WHERE tenant = \(tenant) AND stream_uid = \(streamUID) AND owner = \(owner)
                RETURNING 1
                """,
                logger: logger
            )
            var holds = false
            for try await _ in held { holds = true }
            guard holds else { throw LogDeliveryError(description: "another replica took over this stream") }
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).log_stream_positions
                    (tenant, stream_uid, topic, partition, delivered_sequence)
                SELECT tenant, \(streamUID), topic, partition, sequence
                FROM unnest(\(chains.map(\.key.tenant)), \(chains.map(\.key.topic)), \(chains.map(\.key.partition)),
                    \(chains.map(\.value))) AS t(tenant, topic, partition, sequence)
                ON CONFLICT (tenant, stream_uid, topic, partition)
                DO UPDATE SET delivered_sequence = GREATEST(log_stream_positions.delivered_sequence,
                    excluded.delivered_sequence)
                """,
                logger: logger
            )
        }
    }

    /// Records a failed attempt (the reason must be safe to show).
    func failed(_ reason: String, logger: Logger) async throws {
        try await postgres.query(
            """
            UPDATE \(unescaped: schema.rawValue).log_stream_state
            SET last_error = \(String(reason.prefix(500))), last_error_at = now(), failures = failures + 1
            WHERE tenant = \(tenant) AND stream_uid = \(streamUID)
            """,
            logger: logger
        )
    }

    struct Status: Codable, Sendable {
        var name: String
        var destination: String
        var format: String
        var deliveredBy: String?
        var lagRecords: Int64
        var deliveredRecords: Int64
        var lastDeliveryAt: Date?
        var lastError: String?
        var lastErrorAt: Date?
        var consecutiveFailures: Int
    }

    /// Lag (records committed and not yet delivered, filtered or not), counters and the last error.
    func status(destination: String, format: String, logger: Logger) async throws -> Status {
        var status = Status(
            name: name, destination: destination, format: format, lagRecords: 0, deliveredRecords: 0,
            consecutiveFailures: 0)
        let lag = try await postgres.query(
            """
            SELECT COALESCE(sum(h.sequence - COALESCE(p.delivered_sequence, 0)), 0)::bigint
            FROM \(unescaped: schema.rawValue).chain_heads h
            LEFT JOIN \(unescaped: schema.rawValue).log_stream_positions p
              ON p.tenant = h.tenant AND p.stream_uid = \(streamUID) AND p.topic = h.topic AND p.partition = h.partition
            WHERE \(everyTenant) OR h.tenant = ANY(\(tenants))
            """,
            logger: logger
        )
        for try await value in lag.decode(Int64.self) { status.lagRecords = value }
        let rows = try await postgres.query(
            """
            SELECT owner, lease_until > now(), delivered, last_delivery_at, last_error, last_error_at, failures
            FROM \(unescaped: schema.rawValue).log_stream_state WHERE tenant = \(tenant) AND stream_uid = \(streamUID)
            """,
            logger: logger
        )
        for try await (owner, live, delivered, lastDelivery, lastError, lastErrorAt, failures) in rows.decode(
            (String, Bool, Int64, Date?, String?, Date?, Int).self)
        {
            status.deliveredBy = live ? owner : nil
            status.deliveredRecords = delivered
            status.lastDeliveryAt = lastDelivery
            status.lastError = lastError
            status.lastErrorAt = lastErrorAt
            status.consecutiveFailures = failures
        }
        return status
    }
}
