import ArgumentParser
import Foundation
import SigilClient

/// `sigil audit tail | verify`: read the tenant's audit log, or prove its hash chain intact.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read the audit log or verify its hash chain.",
        subcommands: [Tail.self, Verify.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print audit records, oldest first; --follow keeps printing new ones.")

        @Option(help: "Only records with this outcome (granted, denied, issued, refused, ...).") var outcome: String?
        @Option(help: "Only records of this client workload.") var clientWorkload: String?
        @Flag(help: "Keep polling for new records.") var follow = false

        func run() async throws {
            let admin = AdminClient()
            var after: Int64 = 0
            repeat {
                var query = "after=\(after)&limit=500"
                if let outcome { query += "&outcome=\(outcome)" }
                if let clientWorkload { query += "&clientWorkload=\(clientWorkload)" }
                let (status, body, _) = try await admin.send(
                    .GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/events?\(query)")
                guard status == 200, let page = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    throw AdminClient.Failure(
                        description: "audit query failed (\(status)): \(AdminClient.describe(body))")
                }
                for record in page["items"] as? [[String: Any]] ?? [] {
                    after = (record["sequence"] as? NSNumber)?.int64Value ?? after
                    let fields = ["time", "type", "outcome", "clientWorkload", "subject"].map { "\(record[$0] ?? "-")" }
                    print("#\(after) " + fields.joined(separator: "  ") + Self.change(record["data"]))
                }
                if follow { try await Task.sleep(for: .seconds(1)) }
            } while follow
        }

        /// For a configuration change: who made it, and the versions before and after.
        static func change(_ data: Any?) -> String {
            guard let data = data as? [String: Any], let actor = data["changedBy"] as? [String: Any] else { return "" }
            let by = "  by \(actor["tokenName"] ?? "?") (\(actor["role"] ?? "?"))"
            let metadata = data["metadata"] as? [String: Any]
            let before = data["previousResourceVersion"] as? String ?? data["resourceVersion"] as? String ?? "none"
            let after = metadata?["resourceVersion"] as? String ?? "none"
            let digest = (data["specDigest"] as? String).map { "  spec sha256:\($0.prefix(12))" } ?? ""
            return by + "  version \(before) -> \(after)" + digest
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the tenant's hash chain; exit 1 if it is broken.")

        func run() async throws {
            let admin = AdminClient()
            let (status, body, _) = try await admin.send(
                .GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/verify")
            guard status == 200, let result = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw AdminClient.Failure(description: "verification failed (\(status)): \(AdminClient.describe(body))")
            }
            let records = result["records"] ?? 0
            if result["verified"] as? Bool == true {
                print("audit log verified: \(records) records, chain intact")
            } else {
                print("audit log BROKEN at sequence \(result["brokenAt"] ?? "?") after \(records) intact records")
                throw ExitCode(1)
            }
        }
    }
}
