import Foundation
import SigilEvents
import Yams

/// One document of a `sigil apply` file:
/// ```yaml
/// kind: ServerWorkload
/// metadata: {name: billing-api}
/// spec: {scheme: https, host: billing.internal, port: 443}
/// ```
public struct ResourceDocument {
    public let kind: ResourceKind
    public let name: String
    public let spec: Data

    public init(kind: ResourceKind, name: String, spec: Data) {
        self.kind = kind
        self.name = name
        self.spec = spec
    }

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// Every document of a multi-document YAML text, in order.
    public static func parse(_ yaml: String, file: String) throws -> [ResourceDocument] {
        var documents: [ResourceDocument] = []
        // Parse every document before applying any: a syntax error anywhere refuses the whole file.
        var loaded: [Any?] = []
        do {
            let parser = try Parser(yaml: yaml)
            while let node = try parser.nextRoot() {
                loaded.append(Constructor.default.any(from: node))
            }
        } catch {
            throw Invalid(description: "\(file): not valid YAML: \(error)")
        }
        for (index, document) in loaded.enumerated() {
            guard let document else { continue }
            let position = "\(file) document \(index + 1)"
            guard let fields = document as? [String: Any] else {
                throw Invalid(description: "\(position): not a mapping")
            }
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
            guard let spec = fields["spec"] as? [String: Any] else {
                throw Invalid(description: "\(position): spec must be a mapping")
            }
            guard JSONSerialization.isValidJSONObject(spec) else {
                throw Invalid(description: "\(position): spec holds values JSON cannot carry")
            }
            documents.append(
                ResourceDocument(
                    kind: kind, name: name,
                    spec: try JSONSerialization.data(withJSONObject: spec, options: [.sortedKeys])))
        }
        return documents
    }
}
