import Foundation
import SigilClient
import SigilEvents
import Testing

@Suite("sigil apply documents")
struct ResourceDocumentTests {
    @Test("a multi-document file becomes resources in order, specs as JSON")
    func parses() throws {
        let yaml = """
            kind: ServerWorkload
            metadata: {name: ledger-api}
            spec: {scheme: https, host: ledger.internal, port: 443}
            ---
            kind: AccessPolicy
            metadata:
              name: billing-to-ledger
            spec:
              clientWorkload: billing
              ttlSeconds: 300
            """
        let documents = try ResourceDocument.parse(yaml, file: "set.yaml")
        #expect(documents.map(\.kind) == [.serverWorkload, .accessPolicy])
        #expect(documents.map(\.name) == ["ledger-api", "billing-to-ledger"])
        let spec = try JSONSerialization.jsonObject(with: documents[0].spec) as? [String: Any]
        #expect(spec?["port"] as? Int == 443)
    }

    @Test("unusable documents are refused with their position and what is wrong")
    func refusals() {
        let cases: [(String, String)] = [
            ("kind: [unclosed", "not valid YAML"),
            ("- a list", "document 1: not a mapping"),
            ("metadata: {name: x}\nspec: {}", "kind is required"),
            ("kind: Teleporter\nmetadata: {name: x}\nspec: {}", "unknown kind Teleporter"),
            ("kind: AdminToken\nmetadata: {name: x}\nspec: {}", "unknown kind AdminToken"),
            ("kind: ServerWorkload\nspec: {}", "metadata.name is required"),
            ("kind: ServerWorkload\nmetadata: {name: x}\nspec: [1]", "spec must be a mapping"),
        ]
        for (yaml, expected) in cases {
            do {
                _ = try ResourceDocument.parse(yaml, file: "f.yaml")
                Issue.record("accepted: \(yaml)")
            } catch {
                #expect("\(error)".contains(expected), "\(error)")
            }
        }
    }
}
