import Foundation
import SigilEvents
import Yams

/// One document of a `sigil apply` file, sent as it is (the owning service admits it):
/// ```yaml
/// apiVersion: sigil.dev/v1
/// kind: ServerWorkload
/// metadata: {name: billing-api, labels: {team: billing}}
/// spec: {scheme: https, host: billing.internal, port: 443}
/// ```
public struct ResourceDocument: Sendable {
    public let kind: ResourceKind
    public let name: String
    public let document: JSONValue

    public init(kind: ResourceKind, name: String, document: JSONValue) {
        self.kind = kind
        self.name = name
        self.document = document
    }

    /// A document from its parts (for code that builds resources, like the demo).
    public init(kind: ResourceKind, name: String, labels: [String: String] = [:], spec: JSONValue) {
        self.init(
            kind: kind, name: name,
            document: [
                "apiVersion": "sigil.dev/v1", "kind": .string(kind.rawValue),
                "metadata": ["name": .string(name), "labels": .object(labels.mapValues(JSONValue.string))],
                "spec": spec,
            ])
    }

    public var reference: String { "\(kind.rawValue)/\(name)" }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every document of a multi-document YAML (or JSON) text, in order. A syntax error anywhere refuses the file.
    public static func parse(_ yaml: String, file: String) throws -> [ResourceDocument] {
        var loaded: [Any?] = []
        do {
            let parser = try Parser(yaml: yaml)
            while let node = try parser.nextRoot() {
                loaded.append(Constructor.default.any(from: node))
            }
        } catch {
            throw Invalid(description: "\(file): not valid YAML: \(error)")
        }
        var documents: [ResourceDocument] = []
        for (index, document) in loaded.enumerated() {
            guard let document, !(document is NSNull) else { continue }
            let position = "\(file) document \(index + 1)"
            guard let fields = document as? [String: Any] else {
                throw Invalid(description: "\(position): not a mapping")
            }
            // A `sigil get -o yaml` list is accepted too: its items are the documents.
            if fields["kind"] as? String == "List" || (fields["kind"] as? String)?.hasSuffix("List") == true,
                let items = fields["items"] as? [Any]
            {
                for (itemIndex, item) in items.enumerated() {
                    documents.append(try one(item, position: "\(position) item \(itemIndex + 1)"))
                }
            } else {
                documents.append(try one(fields, position: position))
            }
        }
        let references = documents.map(\.reference)
        if let duplicate = references.first(where: { reference in references.filter { $0 == reference }.count > 1 }) {
            throw Invalid(description: "\(file): \(duplicate) appears more than once")
        }
        return documents
    }

    static func one(_ value: Any, position: String) throws -> ResourceDocument {
        guard let fields = value as? [String: Any] else { throw Invalid(description: "\(position): not a mapping") }
        guard let kindName = fields["kind"] as? String else {
            throw Invalid(description: "\(position): kind is required")
        }
        guard let kind = ResourceKind(rawValue: kindName), AdminClient.routes[kind] != nil else {
            let kinds = AdminClient.routes.keys.map(\.rawValue).sorted().joined(separator: ", ")
            throw Invalid(description: "\(position): unknown kind \(kindName); one of \(kinds)")
        }
        guard let metadata = fields["metadata"] as? [String: Any], let name = metadata["name"] as? String else {
            throw Invalid(description: "\(position): metadata.name is required")
        }
        let compatible = jsonCompatible(fields)
        guard JSONSerialization.isValidJSONObject(compatible),
            let data = try? JSONSerialization.data(withJSONObject: compatible, options: [.sortedKeys]),
            let document = try? JSONDecoder().decode(JSONValue.self, from: data)
        else {
            throw Invalid(description: "\(position): holds values JSON cannot carry (dates, binary)")
        }
        return ResourceDocument(kind: kind, name: name, document: document)
    }

    /// YAML reads an unquoted RFC 3339 time as a date; resources carry times as strings.
    static func jsonCompatible(_ value: Any) -> Any {
        switch value {
        case let date as Date: return date.formatted(.iso8601)
        case let object as [String: Any]: return object.mapValues(jsonCompatible)
        case let array as [Any]: return array.map(jsonCompatible)
        default: return value
        }
    }
}
