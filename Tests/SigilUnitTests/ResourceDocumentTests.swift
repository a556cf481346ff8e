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
        #expect(documents[0].document["spec"]?["port"] == 443)
        #expect(documents[0].reference == "ServerWorkload/ledger-api")
    }

    @Test("what `sigil get -o yaml` prints reads back: timestamps stay strings, a list's items are documents")
    func readsGetOutput() throws {
        let yaml = """
            apiVersion: sigil.dev/v1
            kind: ServerWorkload
            metadata:
              createdAt: 2026-11-25T23:09:21Z
              name: ledger
              resourceVersion: 01a214f8-88d3-79b2-a339-6de8ac1d9297
            spec: {host: ledger.internal, port: 443}
            ---
            kind: ServerWorkloadList
            items:
            - kind: ServerWorkload
              metadata: {name: a}
              spec: {host: a.internal, port: 1}
            """
        let documents = try ResourceDocument.parse(yaml, file: "get.yaml")
        #expect(documents.map(\.name) == ["ledger", "a"])
        #expect(documents[0].document["metadata"]?["createdAt"] == "2026-11-25T23:09:21Z")
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
            (
                "kind: ServerWorkload\nmetadata: {name: x}\n---\nkind: ServerWorkload\nmetadata: {name: x}",
                "ServerWorkload/x appears more than once"
            ),
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
