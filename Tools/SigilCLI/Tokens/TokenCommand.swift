import ArgumentParser
import Foundation
import SigilClient

/// `sigil token create | list | revoke`: one-time join tokens, for bootstrapping machines with a `join-token`
/// trust provider.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Create, list and revoke one-time join tokens (trust providers of type join-token).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a join token; print it once on stdout (the details go to stderr).",
            discussion: """
                The token admits exactly one access request, whichever attestation replica handles it. Give it to the
                machine (e.g. in a file the edge reads through SIGIL_EDGE_JOIN_TOKEN_FILE); it cannot be shown again.
                """)

        @Option(help: "The join-token TrustProvider it is for.") var trustProvider: String
        @Option(help: "What it bootstraps (a host name): the `name` client workloads match.") var name: String
        @Option(help: "How long it may wait to be used: 90s, 30m, 1h, 2d (default 1h).") var ttl = "1h"

        func run() async throws {
            let seconds = try DurationOption.seconds(ttl)
            let admin = AdminClient()
            let body = try JSONSerialization.data(withJSONObject: [
                "trustProvider": trustProvider, "name": name, "ttlSeconds": seconds,
            ])
            let (status, answer, _) = try await admin.send(
                .POST, try admin.setting("SIGIL_ATTEST_URL") + "/v1/join-tokens", body: body)
            guard status == 201, let created = try JSONSerialization.jsonObject(with: answer) as? [String: Any],
                let token = created["token"] as? String
            else {
                throw AdminClient.Failure(
                    description: "join token not created (\(status)): \(AdminClient.describe(answer))")
            }
            FileHandle.standardError.write(
                Data(
                    "join token \(created["id"] ?? "?") for \(name) (\(trustProvider)), expires \(created["expiresAt"] ?? "?")\n"
                        .utf8))
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tenant's join tokens (never the secrets).")

        func run() async throws {
            let admin = AdminClient()
            let (status, answer, _) = try await admin.send(
                .GET, try admin.setting("SIGIL_ATTEST_URL") + "/v1/join-tokens")
            guard status == 200, let listing = try JSONSerialization.jsonObject(with: answer) as? [String: Any] else {
                throw AdminClient.Failure(
                    description: "join tokens not listed (\(status)): \(AdminClient.describe(answer))")
            }
            print(["ID", "TRUST PROVIDER", "NAME", "EXPIRES", "USED"].joined(separator: "\t"))
            for item in listing["items"] as? [[String: Any]] ?? [] {
                let used = (item["usedAt"] as? String).map { "\($0) (\(item["usedByRequest"] ?? "?"))" } ?? "-"
                print(
                    ["id", "trustProvider", "name", "expiresAt"].map { "\(item[$0] ?? "-")" }.joined(separator: "\t")
                        + "\t" + used)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke an unused join token by its id.")

        @Argument(help: "The token's id (from `sigil token list`).") var id: String

        func run() async throws {
            let admin = AdminClient()
            let (status, answer, _) = try await admin.send(
                .DELETE, try admin.setting("SIGIL_ATTEST_URL") + "/v1/join-tokens/\(id)")
            guard status == 204 else {
                throw AdminClient.Failure(
                    description: "join token not revoked (\(status)): \(AdminClient.describe(answer))")
            }
            print("join token \(id) revoked")
        }
    }
}
