import Foundation
import SigilEvents
import Testing
import Yams

@testable import AuditIngestion
@testable import CredentialIssuance
@testable import EdgeProxy
@testable import IdentityAttestation
@testable import PolicyDecision
@testable import SigilService

/// Each service's OpenAPI document is generated from its routes and kinds; the copy kept in its folder
/// (`Services/<service>/openapi.yaml`, for readers and client generators) must be that document.
/// `SIGIL_UPDATE_OPENAPI=1 swift test --filter OpenAPIDocumentTests` rewrites the copies.
@Suite("OpenAPI documents: generated from the code, kept as files")
struct OpenAPIDocumentTests {
    static let services: [(folder: String, definition: SigilServiceDefinition)] = [
        ("IdentityAttestation", .identityAttestation), ("PolicyDecision", .policyDecision),
        ("CredentialIssuance", .credentialIssuance), ("AuditIngestion", .auditIngestion), ("EdgeProxy", .edgeProxy),
    ]

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test("the file in each service's folder is the document the service serves", arguments: services.map(\.folder))
    func keptFile(folder: String) throws {
        let definition = try #require(Self.services.first { $0.folder == folder }?.definition)
        let file = Self.repository.appendingPathComponent("Services/\(folder)/openapi.yaml")
        let generated = definition.openAPIDocument
        if ProcessInfo.processInfo.environment["SIGIL_UPDATE_OPENAPI"] == "1" {
            try generated.write(to: file, atomically: true, encoding: .utf8)
        }
        let kept = try String(contentsOf: file, encoding: .utf8)
        #expect(
            kept == generated,
            "Services/\(folder)/openapi.yaml is out of date: SIGIL_UPDATE_OPENAPI=1 swift test --filter OpenAPIDocumentTests"
        )
    }

    @Test("every write documents its refusals; every kind's document schema refuses unknown fields")
    func documented() throws {
        for (folder, definition) in Self.services {
            let document = try #require(try Yams.load(yaml: definition.openAPIDocument) as? [String: Any])
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            for (path, methods) in paths {
                for (method, operation) in methods {
                    let responses = try #require((operation as? [String: Any])?["responses"] as? [String: Any])
                    let open = ((operation as? [String: Any])?["security"] as? [Any])?.isEmpty == true
                    if path.hasPrefix("/v1/") {
                        #expect(!open && responses["401"] != nil, "\(folder) \(method) \(path)")
                    }
                    if method == "put" {
                        for status in ["400", "401", "403", "409", "422"] {
                            #expect(responses[status] != nil, "\(folder) \(method) \(path) lacks \(status)")
                        }
                    }
                    // Deleting a named thing may find nothing or conflict; `/v1/tenant` (the caller's own) may not.
                    if method == "delete" {
                        for status in path.contains("{") ? ["401", "403", "404", "409"] : ["400", "401", "403"] {
                            #expect(responses[status] != nil, "\(folder) \(method) \(path) lacks \(status)")
                        }
                    }
                }
            }
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
            for resource in definition.resources {
                let schema = try #require(schemas[resource.kind.rawValue] as? [String: Any])
                #expect(schema["additionalProperties"] as? Bool == false)
                #expect((schema["required"] as? [String])?.contains("spec") == true)
            }
        }
    }

    @Test("YAML output reads back as the same JSON, whatever the strings look like")
    func yamlRoundTrip() throws {
        let value: JSONValue = [
            "status": "200", "flag": "true", "no": "no", "time": "2026-11-25T23:09:21Z", "date": "2026-11-25",
            "port": 443, "ratio": .number(0.5), "colon": "a: b", "empty": "", "null": .null, "list": ["1", 2, false],
            "nested": ["~": "~", "quote": "it's \"quoted\"", "multi": "line one\nline two"],
        ]
        let loaded = try #require(try Yams.load(yaml: value.yaml))
        let data = try JSONSerialization.data(withJSONObject: loaded, options: [.fragmentsAllowed])
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }
}
