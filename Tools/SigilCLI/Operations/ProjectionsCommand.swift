import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import SigilClient
import SigilProjection

/// `sigil projections rebuild SERVICE`: drops a service's schema so that, on its next start, it re-applies its
/// migrations and replays every topic from offset 0. The log is the source of truth; the schema is derived.
struct ProjectionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "projections",
        abstract: "Manage the PostgreSQL projections.",
        subcommands: [Rebuild.self]
    )

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Drop a service's schema; restart the service (all its replicas) to replay from offset 0."
        )

        @Argument(help: "attest, policy, issue or audit.") var service: String

        func run() async throws {
            guard ["attest", "policy", "issue", "audit"].contains(service) else {
                throw ValidationError("no schema for \(service); one of attest, policy, issue, audit")
            }
            let url = try AdminClient().setting("SIGIL_POSTGRES_URL")
            let logger = Logger(label: "sigil.projections")
            let client = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: logger)
            let schema = SchemaName(service)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { await client.run() }
                defer { group.cancelAll() }
                try await MigrationRunner(schema: schema, migrations: []).drop(on: client, logger: logger)
            }
            print(
                "dropped schema \(schema); restart sigil-\(service) to re-apply its migrations and replay from offset 0"
            )
        }
    }
}
