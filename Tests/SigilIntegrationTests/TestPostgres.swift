import Foundation
import Logging
import PostgresNIO
import SigilProjection
import Testing

/// The PostgreSQL the test run started (`make test` sets `SIGIL_TEST_POSTGRES_URL`).
enum TestPostgres {
    static func url() throws -> String {
        try #require(
            ProcessInfo.processInfo.environment["SIGIL_TEST_POSTGRES_URL"],
            "SIGIL_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL"
        )
    }

    /// Runs `body` with a connected pool, then shuts the pool down.
    static func withClient<R: Sendable>(_ body: @Sendable (PostgresClient) async throws -> R) async throws -> R {
        let client = PostgresClient(
            configuration: try PostgresURL.configuration(url()), backgroundLogger: Logger(label: "test.postgres"))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// A schema name no other test uses.
    static func uniqueSchema(_ prefix: String) -> SchemaName {
        SchemaName("\(prefix)_\(UUID().uuidString.prefix(8).lowercased())")
    }

    static func count(_ client: PostgresClient, _ table: String, where condition: String = "true") async throws -> Int {
        let rows = try await client.query(
            PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table) WHERE \(condition)"))
        for try await count in rows.decode(Int.self) { return count }
        return 0
    }
}
