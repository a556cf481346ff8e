import ArgumentParser
import Foundation
import SigilEvents

/// `sigil keys generate`: event-signing keys for a deployment.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Event-signing keys of the service roles.",
        subcommands: [KeysGenerate.self]
    )
}

struct KeysGenerate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Write a trust bundle and print each role's signing key as SIGIL_SIGNING_KEY_<ROLE>=…",
        discussion: """
            Every service signs the events it produces with its role's Ed25519 key and acts only on events whose
            signature verifies against the trust bundle for a role allowed to produce them. Give each printed key to
            its service only (as SIGIL_SIGNING_KEY, key id <role>-<suffix> as SIGIL_SIGNING_KEY_ID), and the bundle
            file to every service (SIGIL_TRUST_BUNDLE). docker-compose.yml reads both. To rotate a role's key, add the
            new public key to the bundle, restart every service, move the role to the new key, then remove the old one.
            """
    )

    @Option(help: "Where to write trust-bundle.json.") var directory: String
    @Option(help: "Key ids are <role>-<suffix>.") var suffix = "1"

    func run() async throws {
        let set = SigningKeySet.generate(suffix: suffix)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/trust-bundle.json"
        try set.bundle.write(to: URL(fileURLWithPath: path))
        FileHandle.standardError.write(Data("wrote \(path)\n".utf8))
        for role in ServiceRole.allCases {
            print("SIGIL_SIGNING_KEY_\(role.rawValue.uppercased())=\(set.keys[role]?["SIGIL_SIGNING_KEY"] ?? "")")
        }
    }
}
