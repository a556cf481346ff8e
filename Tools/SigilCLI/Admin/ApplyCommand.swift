import ArgumentParser
import Foundation
import SigilClient

/// `sigil apply -f FILE`: creates or replaces every resource of a multi-document YAML file at its owning service.
/// Applying the same file again changes nothing.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract:
            "Create or replace resources from a YAML file (TrustProvider, ClientWorkload, ServerWorkload, CredentialProvider, AccessPolicy, LogStream)."
    )

    @Option(name: .shortAndLong, help: "The YAML file; '-' reads standard input.") var file: String

    func run() async throws {
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            text = try String(contentsOfFile: file, encoding: .utf8)
        }
        let documents = try ResourceDocument.parse(text, file: file)
        try await Self.apply(documents, client: AdminClient())
    }

    static func apply(_ documents: [ResourceDocument], client: AdminClient) async throws {
        let refusals = try await client.apply(documents)
        for document in documents {
            if let refusal = refusals.first(where: {
                $0.document.kind == document.kind && $0.document.name == document.name
            }) {
                print("\(document.kind.rawValue)/\(document.name) refused (\(refusal.status)): \(refusal.detail)")
            } else {
                print("\(document.kind.rawValue)/\(document.name) applied")
            }
        }
        if !refusals.isEmpty { throw ExitCode(1) }
    }
}

/// `sigil get KIND`: lists the resources of one kind in the token's tenant.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "List resources of one kind.")

    @Argument(help: "TrustProvider, ClientWorkload, ServerWorkload, CredentialProvider, AccessPolicy or LogStream.")
    var kind: String

    func run() async throws {
        guard let kind = AdminClient.routes.keys.first(where: { $0.rawValue.lowercased() == self.kind.lowercased() })
        else {
            throw ValidationError("unknown kind \(self.kind)")
        }
        let client = AdminClient()
        let (status, body) = try await client.send(.GET, try client.url(for: kind))
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any],
            let items = object["items"] as? [[String: Any]]
        else {
            throw AdminClient.Failure(
                description: "listing \(kind.rawValue) failed (\(status)): \(AdminClient.describe(body))")
        }
        print("NAME".padding(toLength: 28, withPad: " ", startingAt: 0) + "SPEC")
        for item in items {
            let name = item["name"] as? String ?? "?"
            let spec = (item["spec"]).flatMap {
                try? JSONSerialization.data(withJSONObject: $0, options: [.sortedKeys])
            }
            print(
                name.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + (spec.map { String(decoding: $0, as: UTF8.self) } ?? ""))
        }
    }
}
