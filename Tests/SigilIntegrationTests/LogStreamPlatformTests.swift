import Foundation
import SigilEvents
import SigilService
import SigilTestSupport
import Testing

@testable import AuditIngestion

/// A platform operator's streams: in the platform tenant, carrying the records of the tenants they name.
extension LogStreamDeliveryTests {
    @Test("a platform stream carries every tenant's records (*) or the ones it names; a tenant's stream its own only")
    func platformStreams() async throws {
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("audit-platform-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: files) }
        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            func file(_ name: String) -> LogStreamSpec {
                LogStreamSpec(
                    destination: .file(.init(path: "\(name).jsonl", maxBytes: 1 << 30, keep: 1)), format: .json,
                    filter: name == "every"
                        ? LogFilter(tenants: ["*"]) : name == "globex" ? LogFilter(tenants: ["globex"]) : nil)
            }
            let streams = [
                Self.stream("every", file("every"), tenant: "platform"),
                Self.stream("globex", file("globex"), tenant: "platform"),
                Self.stream("own", file("own"), tenant: "acme"),
            ]
            let acme = try await log.publishCreated(40, tenant: "acme", topic: topic)
            let globex = try await log.publishCreated(40, tenant: "globex", topic: topic)
            let initech = try await log.publishCreated(40, tenant: "initech", topic: topic)
            func text(_ name: String) -> String {
                (try? String(contentsOf: files.appendingPathComponent("\(name).jsonl"), encoding: .utf8)) ?? ""
            }
            func holds(_ name: String, _ ids: [String]) -> Bool {
                let text = text(name)
                return ids.allSatisfy { text.contains("\"id\":\"\($0)\"") }
            }
            try await log.whileDelivering(streams, environment: LogSenderEnvironment(fileDirectory: files.path)) {
                try await Self.waitUntil("each stream to hold its tenants' records") {
                    holds("every", acme + globex + initech) && holds("globex", globex) && holds("own", acme)
                }
                let chosen = LogStreamProgress(
                    streams[1], schema: log.schema, postgres: postgres, owner: "replica-1")
                try await Self.waitUntil("the chosen-tenant stream's lag to drain") {
                    try await chosen.status(destination: "", format: "", logger: logger).lagRecords == 0
                }
            }
            #expect(!acme.contains { text("globex").contains($0) } && !initech.contains { text("globex").contains($0) })
            #expect(!globex.contains { text("own").contains($0) } && !initech.contains { text("own").contains($0) })
            let status = try await LogStreamProgress(streams[1], schema: log.schema, postgres: postgres, owner: "x")
                .status(destination: "", format: "", logger: logger)
            #expect(status.deliveredRecords == 40, "\(status)")
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }
    }
}
