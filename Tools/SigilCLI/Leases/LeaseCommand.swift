import ArgumentParser
import Foundation
import SigilClient

/// `sigil lease list`, `sigil lease revoke ID`: the tenant's database leases (`postgres-dynamic`).
struct LeaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lease",
        abstract: "Database leases: the roles sigil-issue made for workloads (postgres-dynamic).",
        subcommands: [List.self, Revoke.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List open leases (--all: ended ones too).")

        @Flag(help: "Ended leases too, with how they ended.") var all = false

        func run() async throws {
            let admin = AdminClient()
            let (status, answer, _) = try await admin.send(
                .GET, try admin.setting("SIGIL_ISSUE_URL") + "/v1/leases" + (all ? "?state=all" : ""))
            guard status == 200, let listing = try JSONSerialization.jsonObject(with: answer) as? [String: Any],
                let items = listing["items"] as? [[String: Any]]
            else {
                throw AdminClient.Failure(description: "leases not listed (\(status)): \(AdminClient.describe(answer))")
            }
            print(["LEASE", "ROLE", "CLIENT WORKLOAD", "DATABASE", "EXPIRES", "ENDED"].joined(separator: "\t"))
            for lease in items {
                let ended = (lease["revokedAt"] as? String).map { at in
                    let by = (lease["revokedBy"] as? String).map { " by \($0)" } ?? ""
                    let sessions = lease["sessionsTerminated"] as? Int ?? 0
                    return "\(at) \(lease["revokeReason"] as? String ?? "")\(by) (\(sessions) sessions ended)"
                }
                let columns = [
                    lease["id"] as? String ?? "", lease["role"] as? String ?? "",
                    lease["clientWorkload"] as? String ?? "", lease["database"] as? String ?? "",
                    lease["expiresAt"] as? String ?? "", ended ?? "-",
                ]
                print(columns.joined(separator: "\t"))
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "End a lease now: its role can no longer log in, its open sessions are terminated, it is dropped.",
            discussion: """
                The workload's edge asks for a new lease on its next connection, and policy decides it again: to keep
                a workload out, change its access policy too (removing the policy's provider also ends its leases).
                """)

        @Argument(help: "The lease's id (sigil lease list).") var id: String

        func run() async throws {
            let admin = AdminClient()
            let (status, answer, _) = try await admin.send(
                .DELETE,
                try admin.setting("SIGIL_ISSUE_URL") + "/v1/leases/"
                    + (id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(["/"])) ?? ""))
            guard [200, 202].contains(status),
                let lease = try JSONSerialization.jsonObject(with: answer) as? [String: Any]
            else {
                throw AdminClient.Failure(description: "lease not revoked (\(status)): \(AdminClient.describe(answer))")
            }
            if status == 200 {
                print(
                    "lease \(id) revoked: role \(lease["role"] ?? "?") dropped, "
                        + "\(lease["sessionsTerminated"] as? Int ?? 0) session(s) terminated")
            } else {
                print("lease \(id): revocation asked for; it completes when the database can be reached")
            }
        }
    }
}
