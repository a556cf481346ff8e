import Logging
import PostgresNIO

/// One versioned change to a service's schema. Versions start at 1 and only grow; an applied migration is never
/// edited, a new one is added.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    /// Statements run in order, in one transaction with the version record.
    public let statements: @Sendable (SchemaName) -> [PostgresQuery]

    public init(version: Int, name: String, statements: @escaping @Sendable (SchemaName) -> [PostgresQuery]) {
        self.version = version
        self.name = name
        self.statements = statements
    }
}

/// Applies a schema's migrations at start: each missing version once, in order, under an advisory lock so that
/// replicas starting together do not race.
public struct MigrationRunner: Sendable {
    public let schema: SchemaName
    public let migrations: [Migration]

    public init(schema: SchemaName, migrations: [Migration]) {
        precondition(
            migrations.enumerated().allSatisfy { $0.offset + 1 == $0.element.version },
            "migration versions must be 1, 2, 3, ..."
        )
        self.schema = schema
        self.migrations = migrations
    }

    /// Applies what is missing and returns the versions applied now (empty when the schema was up to date).
    @discardableResult
    public func apply(on client: PostgresClient, logger: Logger) async throws -> [Int] {
        let schema = self.schema
        let migrations = self.migrations
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(schema.rawValue)))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: schema.rawValue)", logger: logger)
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: schema.rawValue).schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """,
                logger: logger
            )
            try await connection.query(
                """
                CREATE TABLE IF NOT EXISTS \(unescaped: schema.rawValue).projection_offsets (
                    projection text NOT NULL,
                    topic text NOT NULL,
                    partition integer NOT NULL,
                    next_offset bigint NOT NULL,
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (projection, topic, partition))
                """,
                logger: logger
            )
            var applied = Set<Int>()
            let rows = try await connection.query(
                "SELECT version FROM \(unescaped: schema.rawValue).schema_migrations",
                logger: logger
            )
            for try await version in rows.decode(Int.self) { applied.insert(version) }

            var appliedNow: [Int] = []
            for migration in migrations where !applied.contains(migration.version) {
                for statement in migration.statements(schema) {
                    try await connection.query(statement, logger: logger)
                }
                try await connection.query(
                    """
                    INSERT INTO \(unescaped: schema.rawValue).schema_migrations (version, name)
                    VALUES (\(migration.version), \(migration.name))
                    """,
                    logger: logger
                )
                logger.info(
                    "applied migration",
                    metadata: ["schema": "\(schema)", "migration": "\(migration.version) \(migration.name)"])
                appliedNow.append(migration.version)
            }
            return appliedNow
        }
    }

    /// Drops the schema and everything in it (for `sigil projections rebuild`); `apply` recreates it.
    public func drop(on client: PostgresClient, logger: Logger) async throws {
        try await client.query("DROP SCHEMA IF EXISTS \(unescaped: schema.rawValue) CASCADE", logger: logger)
    }
}
