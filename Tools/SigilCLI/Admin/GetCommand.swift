import ArgumentParser
import Foundation
import SigilClient
import SigilEvents
import SigilService

/// `sigil get KIND [NAME] [-o table|yaml|json]`: reads resources of the token's tenant. YAML and JSON output can be
/// applied again as they are (and doing so changes nothing).
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get", abstract: "List resources of one kind, or show one.")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case table, yaml, json
    }

    @Argument(help: "\(AdminClient.kindNames).") var kind: String
    @Argument(help: "One resource's name (all of the kind if absent).") var name: String?
    @Option(name: .shortAndLong, help: "table (default), yaml or json.") var output: Format = .table

    func run() async throws {
        let kind = try AdminClient.kind(named: self.kind)
        let client = AdminClient()
        let value: JSONValue
        let items: [JSONValue]
        if let name {
            let (status, body, _) = try await client.send(.GET, try client.url(for: kind, name: name))
            guard status == 200, let read = try? JSONDecoder().decode(JSONValue.self, from: body) else {
                throw AdminClient.Failure(
                    description: "reading \(kind.rawValue)/\(name) failed (\(status)): \(AdminClient.describe(body))")
            }
            (value, items) = (read, [read])
        } else {
            // Page by page: one list of every resource, as one response would have been.
            items = try await client.list(kind)
            value = [
                "apiVersion": .string(SigilAPI.version), "kind": .string("\(kind.rawValue)List"),
                "items": .array(items),
            ]
        }
        switch output {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        case .yaml:
            print(items.map(\.yaml).joined(separator: "---\n"), terminator: "")
        case .table:
            print(pad("NAME", 28) + pad("GENERATION", 12) + pad("UPDATED", 22) + "SPEC")
            for item in items {
                let metadata = item["metadata"]
                let generation: String
                if case .number(let value) = metadata?["generation"] {
                    generation = String(Int(value))
                } else {
                    generation = ""
                }
                let spec = (try? EventJSON.encoder.encode(item["spec"] ?? .null)).map {
                    String(decoding: $0, as: UTF8.self)
                }
                print(
                    pad(metadata?["name"]?.stringValue ?? "?", 28) + pad(generation, 12)
                        + pad(String((metadata?["updatedAt"]?.stringValue ?? "").prefix(20)), 22) + (spec ?? ""))
            }
        }
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0)
    }
}
