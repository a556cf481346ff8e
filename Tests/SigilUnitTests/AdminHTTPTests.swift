import Foundation
import Hummingbird
import HummingbirdTesting
import SigilService
import Testing

@Suite("Admin HTTP: health, readiness, auth, problems")
struct AdminHTTPTests {
    static let adminToken = "adm_0123456789abcdefghijklmnop"
    static let auditorToken = "aud_0123456789abcdefghijklmnop"

    func application(dependenciesUp: Bool = true, startupDone: Bool = true) -> some ApplicationProtocol {
        let tokens = AdminTokenStore()
        tokens.add(token: Self.adminToken, principal: .init(tenant: "acme", role: .admin, tokenName: "ops"))
        tokens.add(token: Self.auditorToken, principal: .init(tenant: "acme", role: .auditor, tokenName: "siem"))
        struct Down: Error {}
        let readiness = Readiness(checks: [
            .init(name: "kafka") { if !dependenciesUp { throw Down() } },
            .init(name: "postgres") {},
        ])
        if startupDone { readiness.markStartupComplete() }
        let router = SigilServiceRuntime.buildRouter(
            tokens: tokens,
            readiness: readiness,
            openAPIDocument: OpenAPIDocument.render(title: "sigil-test", version: "0", description: "test", paths: [:])
        )
        return Application(router: router)
    }

    func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as? [String: Any])
    }

    @Test("/healthz answers without a token")
    func health() async throws {
        try await application(dependenciesUp: false).test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
    }

    @Test("/readyz is 200 only when start-up is done and every dependency answers")
    func readiness() async throws {
        try await application().test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        try await application(dependenciesUp: false).test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let checks = try json(response.body)["checks"] as? [String: String]
                #expect(checks?["kafka"] == "unreachable")
                #expect(checks?["postgres"] == "ok")
            }
        }
        try await application(startupDone: false).test(.router) { client in
            try await client.execute(uri: "/readyz", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let checks = try json(response.body)["checks"] as? [String: String]
                #expect(checks?["startup"] == "pending")
            }
        }
    }

    @Test("admin routes refuse a missing, malformed or unknown token with problem+json")
    func refusals() async throws {
        try await application().test(.router) { client in
            for authorization in [nil, "Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer not-a-known-token"] {
                var headers: HTTPFields = [:]
                if let authorization { headers[.authorization] = authorization }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: headers) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"sigil\"")
                    let problem = try json(response.body)
                    #expect(problem["type"] as? String == "urn:sigil:problem:unauthorized")
                    #expect(problem["status"] as? Int == 401)
                    #expect(!(String(buffer: response.body).contains("not-a-known-token")))
                }
            }
        }
    }

    @Test("a valid token is bound to its tenant and role")
    func principal() async throws {
        try await application().test(.router) { client in
            for (token, role) in [(Self.adminToken, "admin"), (Self.auditorToken, "auditor")] {
                try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Bearer \(token)"])
                { response in
                    #expect(response.status == .ok)
                    let body = try json(response.body)
                    #expect(body["tenant"] as? String == "acme")
                    #expect(body["role"] as? String == role)
                }
            }
        }
    }

    @Test("unknown routes are problem documents; metrics and OpenAPI are served")
    func openRoutes() async throws {
        try await application().test(.router) { client in
            try await client.execute(uri: "/v2/nothing", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
            try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(buffer: response.body)
                #expect(text.contains("openapi: 3.1.0\n"))
                #expect(text.contains("/v1/whoami:"))
            }
            // A method a path does not serve is a 405 naming those it does, not a 404.
            try await client.execute(uri: "/healthz", method: .post) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            try await client.execute(
                uri: "/v1/whoami", method: .delete, headers: [.authorization: "Bearer \(Self.adminToken)"]
            ) { response in
                #expect(response.status == .methodNotAllowed)
            }
        }
    }
}
