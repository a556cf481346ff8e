import ArgumentParser
import Foundation
import SigilClient

/// `sigil tenant delete --confirm NAME`: crypto-shreds the caller's tenant.
struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant",
        abstract: "The caller's tenant.",
        subcommands: [Delete.self]
    )

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the tenant: destroy its data keys, so every secret it ever stored is unreadable.",
            discussion: """
                Irreversible. sigil-issue writes a key-destroyed record over each data key's wrapped copy on
                sigil.config (compaction drops the wrapped key within max.compaction.lag.ms, a day) and every issuance
                replica deletes its row and forgets the key: the tenant's secrets in the event log, the database and
                backups cannot be decrypted again, and its minted JWTs and certificates stop verifying once verifiers
                refresh. Its resources stay defined, their secrets unreadable; remove them with `sigil delete`.
                """)

        @Option(help: "The tenant's name again, to confirm.") var confirm: String

        func run() async throws {
            let admin = AdminClient()
            let (status, answer, _) = try await admin.send(
                .DELETE,
                try admin.setting("SIGIL_ISSUE_URL") + "/v1/tenant?confirm="
                    + (confirm.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""))
            guard status == 200, let deleted = try JSONSerialization.jsonObject(with: answer) as? [String: Any] else {
                throw AdminClient.Failure(
                    description: "tenant not deleted (\(status)): \(AdminClient.describe(answer))")
            }
            let keys = deleted["destroyedDataKeys"] as? [String] ?? []
            print("tenant \(deleted["tenant"] ?? confirm) deleted: \(keys.count) data key(s) destroyed")
        }
    }
}
