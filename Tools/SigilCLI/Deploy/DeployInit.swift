import ArgumentParser
import Foundation
import SigilEvents

/// `sigil deploy init`: every secret of a docker-compose deployment, generated here, into an `.env` file (mode 0600,
/// read by `docker compose`, never committed) and the trust bundle of the roles' public keys.
struct DeployInit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Generate a deployment's secrets: an .env file for docker compose and the trust bundle.",
        discussion: """
            Writes, readable only by you: the PostgreSQL password, the admin and auditor tokens, the edge's role
            token, the attestation master secret, the key-encryption keys of issuance and audit, one event-signing
            key and one Kafka password per service role, and the demo upstream's API key. The values are never printed. Replacing the file
            later orphans everything encrypted with the old keys (stored credentials, log-stream secrets): keep it,
            back it up, and pass --force only for a fresh deployment.
            """
    )

    @Option(help: "The env file docker compose reads.") var envFile = ".env"
    @Option(help: "Where to write trust-bundle.json (mounted read-only into every service).")
    var secretsDirectory = "deploy/secrets"
    @Flag(help: "Replace an existing env file and trust bundle.") var force = false

    func run() async throws {
        let bundlePath = "\(secretsDirectory)/trust-bundle.json"
        for path in [envFile, bundlePath] where FileManager.default.fileExists(atPath: path) && !force {
            throw ValidationError(
                "\(path) exists and holds the keys this deployment's data is encrypted and signed with; keep it, or "
                    + "pass --force to replace it (only for a fresh deployment: an empty database and new topics)")
        }
        let signing = SigningKeySet.generate(suffix: "1")
        var values: [(String, String)] = [
            ("SIGIL_POSTGRES_PASSWORD", DevSecret.generate(bytes: 24)),
            ("SIGIL_ADMIN_TOKEN", DevSecret.generate()),
            ("SIGIL_AUDITOR_TOKEN", DevSecret.generate()),
            ("SIGIL_EDGE_ROLE_TOKEN", DevSecret.generate()),
            ("SIGIL_ATTEST_PRIVATE_KEY", DevSecret.generateKey()),
            ("SIGIL_KEK", DevSecret.generateKey()),
            ("SIGIL_AUDIT_KEK", DevSecret.generateKey()),
            ("SIGIL_POLICY_KEK", DevSecret.generateKey()),
            ("SIGIL_DEMO_API_KEY", "demo_" + DevSecret.generate(bytes: 24)),
        ]
        // Per role: its event-signing key, and its Kafka user's password (SCRAM-SHA-512; deploy/compose/kafka-users.sh
        // creates the users with their ACLs).
        for role in ServiceRole.allCases {
            let name = role.rawValue.uppercased()
            values.append(("SIGIL_SIGNING_KEY_\(name)", signing.keys[role]?["SIGIL_SIGNING_KEY"] ?? ""))
            values.append(("SIGIL_KAFKA_PASSWORD_\(name)", DevSecret.generate(bytes: 24)))
        }
        try FileManager.default.createDirectory(
            atPath: secretsDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        // Public keys only: every service reads it (as the image's non-root user), so it is world-readable.
        try signing.bundle.write(to: URL(fileURLWithPath: bundlePath))
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: bundlePath)
        let text =
            "# Written by `sigil deploy init`: this deployment's secrets. Never commit it; back it up.\n"
            + values.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
        try writePrivateFile(envFile, text)
        print("wrote \(envFile) (mode 0600): \(values.map(\.0).joined(separator: ", "))")
        print("wrote \(bundlePath): the public keys of \(ServiceRole.allCases.map(\.rawValue).joined(separator: ", "))")
        print("next: docker compose up --build   (admin entry point: http://127.0.0.1:7100)")
    }
}
