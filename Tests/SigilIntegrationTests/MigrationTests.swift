import Logging
import PostgresNIO
import SigilProjection
import Testing

@Suite("Schema migrations against PostgreSQL")
struct MigrationTests {
    let logger = Logger(label: "test.migrations")

    func migration(_ version: Int) -> Migration {
        Migration(version: version, name: "table \(version)") { schema in
            ["CREATE TABLE \(unescaped: schema.rawValue).t\(unescaped: String(version)) (id integer PRIMARY KEY)"]
        }
    }

    @Test("each migration is applied once, in order; later ones are added on the next start")
    func appliedOnce() async throws {
        let schema = TestPostgres.uniqueSchema("migrations")
        let logger = self.logger
        let first = MigrationRunner(schema: schema, migrations: [migration(1), migration(2)])
        let later = MigrationRunner(schema: schema, migrations: [migration(1), migration(2), migration(3)])
        try await TestPostgres.withClient { client in
            #expect(try await first.apply(on: client, logger: logger) == [1, 2])
            // A second start applies nothing (re-running CREATE TABLE would fail).
            #expect(try await first.apply(on: client, logger: logger) == [])
            #expect(try await later.apply(on: client, logger: logger) == [3])
            #expect(try await TestPostgres.count(client, "\(schema).schema_migrations") == 3)
            #expect(
                try await TestPostgres.count(client, "information_schema.tables", where: "table_schema = '\(schema)'")
                    == 5)
            try await first.drop(on: client, logger: logger)
        }
    }

    @Test("a failing migration leaves the schema as it was and is reported")
    func failingMigration() async throws {
        let schema = TestPostgres.uniqueSchema("migrations")
        let logger = self.logger
        let broken = Migration(version: 2, name: "broken") { schema in
            [
                "CREATE TABLE \(unescaped: schema.rawValue).half (id integer)",
                "CREATE TABLE \(unescaped: schema.rawValue).t1 (id integer)",  // already exists
            ]
        }
        try await TestPostgres.withClient { client in
            try await MigrationRunner(schema: schema, migrations: [migration(1)]).apply(on: client, logger: logger)
            let failure = await #expect(throws: PostgresTransactionError.self) {
                try await MigrationRunner(schema: schema, migrations: [migration(1), broken]).apply(
                    on: client, logger: logger)
            }
            #expect((failure?.closureError as? PSQLError)?.serverInfo?[.sqlState] == "42P07")
            #expect(try await TestPostgres.count(client, "\(schema).schema_migrations") == 1)
            #expect(
                try await TestPostgres.count(
                    client, "information_schema.tables", where: "table_name = 'half' AND table_schema = '\(schema)'")
                    == 0)
            try await MigrationRunner(schema: schema, migrations: []).drop(on: client, logger: logger)
        }
    }
}
