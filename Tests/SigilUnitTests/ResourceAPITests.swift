import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SigilEvents
import SigilKafka
import Testing

@testable import PolicyDecision
@testable import SigilService

@Suite("Resource admin API: refusals name the field; roles are enforced")
struct ResourceAPITests {
    static let adminToken = "adm_0123456789abcdefghijklmnop"
    static let auditorToken = "aud_0123456789abcdefghijklmnop"
    static let edgeToken = "edg_0123456789abcdefghijklmnop"

    func application(cache: ResourceCache = ResourceCache()) throws -> some ApplicationProtocol {
        let tokens = AdminTokenStore()
        tokens.add(token: Self.adminToken, principal: .init(tenant: "acme", role: .admin, tokenName: "ops"))
        tokens.add(token: Self.auditorToken, principal: .init(tenant: "acme", role: .auditor, tokenName: "siem"))
        tokens.add(token: Self.edgeToken, principal: .init(tenant: "acme", role: .edge, tokenName: "edge-1"))
        // Never reached: every request here is refused before anything is published.
        let producer = try KafkaProducer(
            configuration: .init(client: .init(bootstrapServers: "127.0.0.1:1", clientID: "test")),
            logger: Logger(label: "test")
        )
        let definition = ResourceDefinition(kind: .serverWorkload) { spec, _, _ in
            try ServerWorkloadSpec.validate(spec)
        }
        let router = SigilServiceRuntime.buildRouter(
            tokens: tokens, readiness: Readiness(checks: []), openAPIDocument: ""
        ) { v1 in
            ResourceController(
                definition: definition, cache: cache, producer: producer, configTopic: "sigil.config",
                source: EventSource(service: "test", instance: "1")
            ).add(to: v1)
        }
        return Application(router: router)
    }

    func put(
        _ client: some TestClientProtocol, _ path: String, _ body: String, token: String = Self.adminToken
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(
            uri: path, method: .put, headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(string: body)
        ) { response in
            (
                response.status,
                (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:]
            )
        }
    }

    @Test("invalid documents are refused with problem+json naming the field")
    func invalidDocuments() async throws {
        try await application().test(.router) { client in
            let cases: [(String, String, HTTPResponse.Status, String?)] = [
                (
                    "/v1/server-workloads/api", #"{"host":"api.internal","port":443,"scheme":"ftp"}"#,
                    .unprocessableContent, "spec.scheme"
                ),
                (
                    "/v1/server-workloads/api", #"{"host":"api.internal","port":70000}"#, .unprocessableContent,
                    "spec.port"
                ),
                ("/v1/server-workloads/api", #"{"port":443}"#, .unprocessableContent, "spec.host"),
                (
                    "/v1/server-workloads/api", #"{"host":"api.internal","port":443,"prot":1}"#, .unprocessableContent,
                    "spec.prot"
                ),
                (
                    "/v1/server-workloads/Bad_Name", #"{"host":"api.internal","port":443}"#, .unprocessableContent,
                    "metadata.name"
                ),
                ("/v1/server-workloads/api", #"{"host": "#, .badRequest, nil),
                ("/v1/server-workloads/api", #"["not","an","object"]"#, .unprocessableContent, "spec"),
            ]
            for (path, body, status, field) in cases {
                let (actual, problem) = try await put(client, path, body)
                #expect(actual == status, "\(body)")
                #expect(problem["field"] as? String == field, "\(body)")
                #expect((problem["type"] as? String)?.hasPrefix("urn:sigil:problem:") == true)
            }
        }
    }

    @Test("an edge's own credential opens nothing on the admin APIs: not even reading")
    func edgeRole() async throws {
        try await application().test(.router) { client in
            let (status, problem) = try await put(
                client, "/v1/server-workloads/api", #"{"host":"x","port":1}"#, token: Self.edgeToken)
            #expect(status == .forbidden)
            #expect((problem["detail"] as? String)?.contains("role edge") == true)
            try await client.execute(
                uri: "/v1/server-workloads", method: .get, headers: [.authorization: "Bearer \(Self.edgeToken)"]
            ) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(
                uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(Self.edgeToken)"]
            ) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("edge"))
            }
        }
    }

    @Test("an auditor may read but not change; unknown resources are 404")
    func roles() async throws {
        let cache = ResourceCache()
        cache.set(
            .serverWorkload, tenant: "acme", name: "api",
            spec: .object(["host": .string("api.internal"), "port": .number(443), "scheme": .string("https")]))
        cache.set(.serverWorkload, tenant: "other", name: "theirs", spec: .object([:]))
        try await application(cache: cache).test(.router) { client in
            let (status, problem) = try await put(
                client, "/v1/server-workloads/api", #"{"host":"x","port":1}"#, token: Self.auditorToken)
            #expect(status == .forbidden)
            #expect(problem["type"] as? String == "urn:sigil:problem:forbidden")
            try await client.execute(
                uri: "/v1/server-workloads", method: .get, headers: [.authorization: "Bearer \(Self.auditorToken)"]
            ) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains("api.internal") && !body.contains("theirs"))  // tenants are isolated
            }
            try await client.execute(
                uri: "/v1/server-workloads/theirs", method: .get, headers: [.authorization: "Bearer \(Self.adminToken)"]
            ) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(
                uri: "/v1/server-workloads/nothing", method: .delete,
                headers: [.authorization: "Bearer \(Self.adminToken)"]
            ) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
