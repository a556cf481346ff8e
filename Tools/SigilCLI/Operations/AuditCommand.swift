import ArgumentParser
import Foundation
import SigilClient

/// `sigil audit tail | verify | streams`: read the tenant's audit log, prove its chains intact, see how its log
/// streams deliver.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Read the audit log, verify its hash chains, see the log streams' delivery.",
        subcommands: [Tail.self, Verify.self, Streams.self]
    )

    struct Tail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print audit records by time; --follow keeps printing new ones.")

        @Option(help: "Only records with this outcome (granted, denied, issued, refused, ...).") var outcome: String?
        @Option(help: "Only records of this client workload.") var clientWorkload: String?
        @Option(help: "Only records of this server workload.") var serverWorkload: String?
        @Option(help: "Only records of this event type (e.g. dev.sigil.access.denied.v1).") var type: String?
        @Option(help: "Only records from this time on (RFC 3339).") var since: String?
        @Flag(name: [.short, .long], help: "Keep polling for new records.") var follow = false

        func run() async throws {
            let admin = AdminClient()
            var cursor: String?
            var filters: [(String, String?)] = [
                ("outcome", outcome), ("clientWorkload", clientWorkload), ("serverWorkload", serverWorkload),
                ("type", type), ("since", since),
            ]
            filters.append(("limit", "500"))
            repeat {
                var components = URLComponents()
                components.queryItems = (filters + [("cursor", cursor)]).compactMap { name, value in
                    value.map { URLQueryItem(name: name, value: $0) }
                }
                let query = components.percentEncodedQuery ?? ""
                let (status, body, _) = try await admin.send(
                    .GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/events?\(query)")
                guard status == 200, let page = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    throw AdminClient.Failure(
                        description: "audit query failed (\(status)): \(AdminClient.describe(body))")
                }
                let items = page["items"] as? [[String: Any]] ?? []
                for record in items {
                    cursor = record["cursor"] as? String ?? cursor
                    let fields = ["time", "type", "outcome", "clientWorkload", "subject"].map { "\(record[$0] ?? "-")" }
                    print(Self.chain(record) + " " + fields.joined(separator: "  ") + Self.change(record["data"]))
                }
                // A full page: there is more right now. Otherwise done, or (following) ask again in a second.
                if items.count == 500 { continue }
                guard follow else { break }
                try await Task.sleep(for: .seconds(1))
            } while true
        }

        static func chain(_ record: [String: Any]) -> String {
            "\(record["topic"] ?? "?")/\(record["partition"] ?? "?")#\(record["sequence"] ?? "?")"
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
            abstract: "Prove every hash chain of the tenant intact; exit 1 naming the first broken row of each.",
            discussion: """
                --against checkpoints compares with the signed chain heads on sigil.audit.checkpoints; --against FILE
                with the checkpoints in a file a JSON log stream wrote (or any file of JSON lines holding
                dev.sigil.audit.checkpointed.v1 records or their data): a log rewritten from end to end, or cut
                short, is found out.
                """)

        @Option(help: "checkpoints, or a file of JSON lines holding shipped checkpoints.") var against: String?

        func run() async throws {
            let admin = AdminClient()
            let url = try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/verify"
            let answer =
                switch against {
                case nil: try await admin.send(.GET, url)
                case "checkpoints": try await admin.send(.GET, url + "?against=checkpoints")
                case let path?:
                    try await admin.send(
                        .POST, url,
                        body: try JSONSerialization.data(withJSONObject: ["checkpoints": try Self.checkpoints(in: path)]
                        ))
                }
            let (status, body) = (answer.status, answer.body)
            guard status == 200, let result = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw AdminClient.Failure(description: "verification failed (\(status)): \(AdminClient.describe(body))")
            }
            let records = result["records"] ?? 0
            let chains = result["chains"] ?? 0
            let matched = result["checkpointsMatched"] ?? 0
            let breaks = result["breaks"] as? [[String: Any]] ?? []
            if breaks.isEmpty {
                print(
                    "audit log verified: \(records) records in \(chains) chains intact, \(matched) checkpoints matched")
                return
            }
            for broken in breaks {
                print(
                    "BROKEN \(broken["chain"] ?? "?") at sequence \(broken["sequence"] ?? "?")"
                        + (broken["eventID"].map { " (event \($0))" } ?? "") + ": \(broken["reason"] ?? "")")
            }
            print("audit log NOT verified: \(breaks.count) of \(chains) chains broken")
            throw ExitCode(1)
        }

        /// Checkpoint payloads from JSON lines: records of a JSON log stream (their `data`), or payloads as they are.
        static func checkpoints(in path: String) throws -> [Any] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("cannot read \(path)")
            }
            var found: [Any] = []
            for line in text.split(separator: "\n") where line.contains("heads") {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                    continue
                }
                if object["type"] as? String == "dev.sigil.audit.checkpointed.v1", let data = object["data"] {
                    found.append(data)
                } else if object["heads"] != nil, object["signature"] != nil {
                    found.append(object)
                }
            }
            guard !found.isEmpty else { throw ValidationError("\(path) holds no audit checkpoints") }
            return found
        }
    }

    struct Streams: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each log stream: destination, records waiting, delivered, last delivery, last error.")

        func run() async throws {
            let admin = AdminClient()
            let base = try admin.setting("SIGIL_AUDIT_URL") + "/v1/log-streams"
            let (status, body, _) = try await admin.send(.GET, base)
            guard status == 200, let list = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw AdminClient.Failure(
                    description: "listing log streams failed (\(status)): \(AdminClient.describe(body))")
            }
            let names = (list["items"] as? [[String: Any]] ?? []).compactMap {
                ($0["metadata"] as? [String: Any])?["name"] as? String
            }
            guard !names.isEmpty else {
                print("no log streams")
                return
            }
            print(
                ["NAME", "DESTINATION", "FORMAT", "LAG", "DELIVERED", "LAST DELIVERY", "LAST ERROR"].joined(
                    separator: "\t"))
            for name in names {
                let (status, body, _) = try await admin.send(.GET, base + "/\(name)/status")
                guard status == 200, let state = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                    print("\(name)\t(status unavailable: \(AdminClient.describe(body)))")
                    continue
                }
                let error = (state["lastError"] as? String).map { "\($0) (at \(state["lastErrorAt"] ?? "?"))" } ?? "-"
                print(
                    [
                        name, "\(state["destination"] ?? "?")", "\(state["format"] ?? "?")",
                        "\(state["lagRecords"] ?? 0)",
                        "\(state["deliveredRecords"] ?? 0)", "\(state["lastDeliveryAt"] ?? "-")", error,
                    ].joined(separator: "\t"))
            }
        }
    }
}
