import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilProjection
import Testing

@testable import IdentityAttestation

@Suite("Replay ledger: a request id is attested once, across replicas and restarts")
struct RequestLedgerTests {
    let logger = Logger(label: "test.ledger")

    @Test("the same request id under another event is a replay; the same event delivered again is not")
    func replays() async throws {
        try await TestPostgres.withClient { postgres in
            let schema = TestPostgres.uniqueSchema("attest")
            try await MigrationRunner(
                schema: schema,
                migrations: [
                    Migration(version: 1, name: "none") { _ in [] },
                    Migration(version: 2, name: "none") { _ in [] }, RequestLedger.migration,
                ]
            ).apply(on: postgres, logger: logger)
            // Two replicas: two ledgers on the same database.
            let first = RequestLedger(schema: schema, postgres: postgres)
            let second = RequestLedger(schema: schema, postgres: postgres)
            let deadline = Deadline(Date().addingTimeInterval(2))
            #expect(
                try await first.record(
                    tenant: "acme", requestID: "r1", eventID: "e1", deadline: deadline, logger: logger) == .new)
            #expect(
                try await first.record(
                    tenant: "acme", requestID: "r1", eventID: "e1", deadline: deadline, logger: logger) == .new)
            #expect(
                try await second.record(
                    tenant: "acme", requestID: "r1", eventID: "e2", deadline: deadline, logger: logger) == .replayed)
            // Request ids are per tenant.
            #expect(
                try await second.record(
                    tenant: "globex", requestID: "r1", eventID: "e3", deadline: deadline, logger: logger) == .new)
            // Concurrent claims of one request id: exactly one wins.
            let outcomes = try await withThrowingTaskGroup(of: RequestLedger.Entry.self) { group in
                for index in 0..<8 {
                    let ledger = index.isMultiple(of: 2) ? first : second
                    group.addTask {
                        try await ledger.record(
                            tenant: "acme", requestID: "r2", eventID: "e-\(index)", deadline: deadline, logger: logger)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .new }.count == 1)
            try await postgres.query("DROP SCHEMA \(unescaped: schema.rawValue) CASCADE", logger: logger)
        }
    }
}
