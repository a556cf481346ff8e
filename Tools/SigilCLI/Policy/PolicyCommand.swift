import ArgumentParser
import Foundation
import SigilClient

/// `sigil policy explain`: what the policy service would decide for a client workload reaching a server workload,
/// and why.
struct PolicyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Reason about access policies before and after they decide.",
        subcommands: [Explain.self, PolicySimulate.self]
    )

    struct Explain: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What would be decided for a client and server workload, and why (every policy, every check).",
            discussion: """
                Example: sigil policy explain --client billing --server ledger-api --at 2026-11-28T10:00:00Z \
                           --from 10.1.2.3 --path /v1/reports --header X-Account=eu
                Without --trust-provider, the evidence is taken as verified by every trust provider the policies name.
                """)

        @Option(help: "The client workload.") var client: String
        @Option(help: "The server workload.") var server: String
        @Option(help: "A trust provider that verified the evidence (repeat for several).") var trustProvider: [String] =
            []
        @Option(help: "The moment to decide at, RFC 3339 (default: now).") var at: String?
        @Option(help: "The workload's address, as the edge would see it (source networks, geography).")
        var from: String?
        @Option(help: "The request's method (default GET).") var method: String?
        @Option(help: "The request's path (default /).") var path: String?
        @Option(help: "A request header credential routes read, NAME=VALUE (repeat for several).") var header:
            [String] = []
        @Option(name: [.short, .customLong("output")], help: "text or json.") var output = "text"

        func run() async throws {
            guard ["text", "json"].contains(output) else { throw ValidationError("--output must be text or json") }
            let admin = AdminClient()
            var question: [String: Any] = ["clientWorkload": client, "serverWorkload": server]
            if !trustProvider.isEmpty { question["trustProviders"] = trustProvider }
            if let at { question["at"] = at }
            if let from { question["from"] = from }
            if let method { question["method"] = method }
            if let path { question["path"] = path }
            if !header.isEmpty {
                var headers: [String: String] = [:]
                for pair in header {
                    guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                        throw ValidationError("--header takes NAME=VALUE, not \(pair)")
                    }
                    headers[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
                }
                question["headers"] = headers
            }
            let (status, body, _) = try await admin.send(
                .POST, try admin.setting("SIGIL_POLICY_URL") + "/v1/decisions/explain",
                body: try JSONSerialization.data(withJSONObject: question))
            guard status == 200, let answer = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw AdminClient.Failure(description: "explain failed (\(status)): \(AdminClient.describe(body))")
            }
            if output == "json" {
                print(String(decoding: body, as: UTF8.self))
                return
            }
            print(Self.render(answer))
        }

        static func render(_ answer: [String: Any]) -> String {
            let decision = answer["decision"] as? String ?? "?"
            let reason = answer["reason"] as? [String: Any]
            let providers = (answer["trustProviders"] as? [String] ?? []).joined(separator: ", ")
            var lines: [String] = []
            if decision == "allow" {
                lines.append(
                    "allow: access policy \(answer["accessPolicy"] ?? "?") grants \(answer["credentialProvider"] ?? "?")"
                )
            } else {
                lines.append("deny: \(reason?["code"] ?? "?") — \(reason?["detail"] ?? "")")
            }
            lines.append("  at \(answer["at"] ?? "?"), evidence verified by: \(providers.isEmpty ? "none" : providers)")
            if let request = answer["request"] as? [String: Any] {
                let headers = (request["headers"] as? [String: String] ?? [:]).sorted { $0.key < $1.key }
                    .map { "\($0.key): \($0.value)" }
                lines.append(
                    "  request \(request["method"] ?? "GET") \(request["path"] ?? "/") from "
                        + "\(request["source"] as? String ?? "an unknown address")"
                        + (headers.isEmpty ? "" : " with \(headers.joined(separator: ", "))"))
            }
            let explanation = answer["explanation"] as? [String: Any]
            for policy in explanation?["policies"] as? [[String: Any]] ?? [] {
                let applies = policy["applies"] as? Bool == true
                lines.append(
                    "  \(policy["policy"] ?? "?") (\(policy["effect"] ?? "?")): \(applies ? "applies" : "does not apply")"
                )
                for check in policy["checks"] as? [[String: Any]] ?? [] {
                    let mark = check["satisfied"] as? Bool == true ? "ok  " : "FAIL"
                    lines.append(
                        "    \(mark) \(check["condition"] ?? "?"): expected \(check["expected"] ?? "?"), was \(check["actual"] ?? "?")"
                    )
                }
            }
            return lines.joined(separator: "\n")
        }
    }
}
