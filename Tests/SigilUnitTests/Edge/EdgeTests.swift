import Foundation
import NIOHTTP1
import SigilEvents
import SigilService
import Testing

@testable import EdgeProxy

@Suite("Edge: request routes, header rewriting and the credential cache")
struct EdgeTests {
    @Test("absolute-form authorities become targets with default ports; nonsense is refused")
    func targets() {
        #expect(
            ProxyRoute.authority("API.internal", scheme: "http")
                == AccessTarget(scheme: "http", host: "api.internal", port: 80))
        #expect(
            ProxyRoute.authority("api.internal", scheme: "https")
                == AccessTarget(scheme: "https", host: "api.internal", port: 443))
        #expect(
            ProxyRoute.authority("10.0.0.1:8080", scheme: "http")
                == AccessTarget(scheme: "http", host: "10.0.0.1", port: 8080))
        #expect(
            ProxyRoute.authority("[::1]:9000", scheme: "http") == AccessTarget(scheme: "http", host: "::1", port: 9000))
        for authority in [":80", "x:0", "x:99999", "x:y", "a:1:2", "user@host", "ho st", "host\u{0}x", "[::1", ""] {
            #expect(ProxyRoute.authority(authority, scheme: "http") == nil, "\(authority)")
        }
    }

    @Test("request heads route to forward, tunnel or a specific refusal")
    func routes() throws {
        func route(
            _ method: HTTPMethod, _ uri: String, _ headers: HTTPHeaders = [:]
        ) -> Result<ProxyRoute, ProxyProblem> {
            ProxyRoute.of(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers))
        }
        #expect(
            try route(.GET, "http://api.internal:8080/v1/x?y=1").get()
                == .forward(
                    target: AccessTarget(scheme: "http", host: "api.internal", port: 8080),
                    authority: "api.internal:8080", path: "/v1/x?y=1"))
        #expect(
            try route(.GET, "http://api.internal?q").get()
                == .forward(
                    target: AccessTarget(scheme: "http", host: "api.internal", port: 80), authority: "api.internal",
                    path: "/?q"))
        #expect(try route(.CONNECT, "example.com:443").get() == .tunnel(host: "example.com", port: 443))
        func slug(_ result: Result<ProxyRoute, ProxyProblem>) -> String? {
            if case .failure(let problem) = result { return problem.document.type } else { return nil }
        }
        #expect(slug(route(.GET, "/relative")) == "urn:sigil:problem:not-a-proxy-request")
        #expect(
            try route(.GET, "https://api.internal/v1").get()
                == .forward(
                    target: AccessTarget(scheme: "https", host: "api.internal", port: 443),
                    authority: "api.internal", path: "/v1"))
        #expect(
            ProxyRoute.httpsTarget(of: AccessTarget(scheme: "http", host: "api", port: 80), authority: "api")
                == AccessTarget(scheme: "https", host: "api", port: 443))
        #expect(
            ProxyRoute.httpsTarget(of: AccessTarget(scheme: "http", host: "api", port: 8443), authority: "api:8443")
                == AccessTarget(scheme: "https", host: "api", port: 8443))
        #expect(slug(route(.GET, "http://us@er:pw@host/")) == "urn:sigil:problem:malformed-request")
        #expect(
            slug(route(.POST, "http://api/", ["content-length": "3", "transfer-encoding": "chunked"]))
                == "urn:sigil:problem:request-smuggling")
        #expect(
            slug(route(.POST, "http://api/", HTTPHeaders([("content-length", "3"), ("content-length", "4")])))
                == "urn:sigil:problem:request-smuggling")
    }

    @Test("hop-by-hop fields go, Host follows the target, one Via line, the injected header replaces the workload's")
    func headers() {
        let head = HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "http://api:8080/x",
            headers: HTTPHeaders([
                ("Host", "evil.example"), ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"),
                ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "Basic abc"), ("TE", "trailers"),
                ("Transfer-Encoding", "chunked"), ("Upgrade", "websocket"), ("Via", "1.0 corp-proxy"),
                ("X-API-Key", "forged"), ("x-api-key", "forged-too"), ("Accept", "application/json"),
                ("Expect", "100-continue"),
            ]))
        let credential = HeldCredential(
            requestID: "r", headerName: "X-API-Key", headerValue: "issued", obtainedAt: Date(),
            expiresAt: Date().addingTimeInterval(60))
        let forwarded = ForwardedHeaders.request(head, authority: "api:8080", path: "/x", credential: credential)
        #expect(forwarded.uri == "/x")
        #expect(forwarded.headers["host"] == ["api:8080"])
        #expect(forwarded.headers["x-api-key"] == ["issued"])
        #expect(forwarded.headers["via"] == ["1.0 corp-proxy, 1.1 sigil-edge"])
        #expect(forwarded.headers["transfer-encoding"] == ["chunked"])
        #expect(forwarded.headers["accept"] == ["application/json"])
        for gone in ["connection", "x-secret-hop", "keep-alive", "proxy-authorization", "te", "upgrade", "expect"] {
            #expect(!forwarded.headers.contains(name: gone), "\(gone)")
        }

        let response = ForwardedHeaders.response(
            HTTPResponseHead(
                version: .http1_1, status: .ok,
                headers: HTTPHeaders([
                    ("Connection", "X-Hop"), ("X-Hop", "1"), ("Content-Length", "2"), ("Via", "1.1 lb"),
                ])),
            version: .http1_1, keepAlive: false)
        #expect(response.headers["via"] == ["1.1 lb, 1.1 sigil-edge"])
        #expect(response.headers["connection"] == ["close"])
        #expect(!response.headers.contains(name: "x-hop"))
        #expect(response.headers["content-length"] == ["2"])
    }

    @Test("a credential is used until it expires, due for refresh at 80%; tokens never share one")
    func cache() throws {
        let cache = CredentialCache()
        let start = Date()
        let held = try #require(
            HeldCredential(
                requestID: "r", inject: "bearer", header: nil, value: "v", obtainedAt: start,
                expiresAt: start.addingTimeInterval(100)))
        #expect(held.injection == .header(name: "Authorization", value: "Bearer v"))
        #expect(held.refreshAt == start.addingTimeInterval(80))
        let target = AccessTarget(scheme: "http", host: "api", port: 80)
        let key = CredentialKey(serverWorkload: "api", evidenceDigest: "token-a")
        cache.store(held, for: key, at: start)
        #expect(cache.usable(key, at: start.addingTimeInterval(99)) != nil)
        #expect(cache.usable(CredentialKey(serverWorkload: "api", evidenceDigest: "token-b"), at: start) == nil)
        #expect(cache.usable(key, at: start.addingTimeInterval(100)) == nil)
    }

    @Test(
        "injections: bearer, a header with a prefix, basic from user:password, a query parameter replacing the workload's"
    )
    func injections() throws {
        func held(
            _ inject: String, header: String? = nil, prefix: String? = nil, parameter: String? = nil, value: String
        )
            -> HeldCredential?
        {
            HeldCredential(
                requestID: "r", inject: inject, header: header, prefix: prefix, parameter: parameter, value: value,
                obtainedAt: Date(), expiresAt: Date().addingTimeInterval(60))
        }
        #expect(
            held("header", header: "Authorization", prefix: "Token ", value: "abc")?.injection
                == .header(name: "Authorization", value: "Token abc"))
        #expect(
            held("basic", value: "svc:p@ss:word")?.injection
                == .header(name: "Authorization", value: "Basic c3ZjOnBAc3M6d29yZA=="))
        #expect(
            held("query", parameter: "api_key", value: "a b&c=d")?.injection
                == .query(parameter: "api_key", value: "a b&c=d"))
        #expect(held("header", value: "no-name") == nil, "a header injection names its header")
        #expect(held("query", value: "no-name") == nil)
        #expect(held("sigv4", value: "x") == nil, "an injection this edge does not know")
        #expect(
            held("query", parameter: "a=b", value: "x")?.isSendable == false,
            "a parameter name that would split the query")

        let cases: [(String, String)] = [
            ("/v1/items", "/v1/items?api_key=a%20b%26c%3Dd"),
            ("/v1/items?page=2", "/v1/items?page=2&api_key=a%20b%26c%3Dd"),
            ("/v1/items?api_key=workload-own&page=2", "/v1/items?page=2&api_key=a%20b%26c%3Dd"),
            ("/v1/items?api%5Fkey=sneaky&&page=2", "/v1/items?page=2&api_key=a%20b%26c%3Dd"),
        ]
        for (path, expected) in cases {
            #expect(ForwardedHeaders.injecting("api_key", "a b&c=d", into: path) == expected, "\(path)")
        }
    }

    @Test("a credential that could split a request (CR, LF, NUL, a bad field name) is not sendable")
    func sendableCredentials() {
        func held(_ name: String, _ value: String) -> HeldCredential {
            HeldCredential(
                requestID: "r", headerName: name, headerValue: value, obtainedAt: Date(),
                expiresAt: Date().addingTimeInterval(60))
        }
        #expect(held("X-API-Key", "abc def\tghi").isSendable)
        #expect(held("Authorization", "Bearer eyJ.x.y").isSendable)
        for (name, value) in [
            ("X-API-Key", "abc\r\nX-Evil: 1"), ("X-API-Key", "a\nb"), ("X-API-Key", "a\u{0}b"), ("Bad Name", "v"),
            ("", "v"), ("X:Y", "v"), ("X-API-Key", String(repeating: "a", count: 17_000)),
        ] {
            #expect(!held(name, value).isSendable, "\(name): \(value.prefix(20))")
        }
    }

    @Test("each edge id maps to a stable reply partition within the topic")
    func replyPartition() throws {
        let configuration = EdgeConfiguration(testEdgeID: "edge-a")
        let partition = configuration.replyPartition(of: 12)
        #expect((0..<12).contains(partition))
        #expect(configuration.replyPartition(of: 12) == partition)
    }
}

@Suite("Edge: settings")
struct EdgeSettingsTests {
    @Test("an edge refuses to start with the tenant's admin or auditor token; it takes its own edge token")
    func noAdminToken() async throws {
        let token = "adm_0123456789abcdefghijklmnop"
        for variable in ["SIGIL_ADMIN_TOKEN", "SIGIL_AUDITOR_TOKEN"] {
            let configuration = try await ServiceConfiguration.load(service: .edgeProxy, environment: [variable: token])
            #expect(throws: ConfigurationError.self) { try EdgeConfiguration(configuration) }
        }
        let configuration = try await ServiceConfiguration.load(
            service: .edgeProxy, environment: ["SIGIL_EDGE_ROLE_TOKEN": token, "SIGIL_EDGE_UNMANAGED": "deny"])
        let edge = try EdgeConfiguration(configuration)
        #expect(edge.roleToken == token && edge.unmanaged == .deny)
        #expect(edge.proxyHost == "127.0.0.1" && edge.timeout == .seconds(2))
        let bad = try await ServiceConfiguration.load(
            service: .edgeProxy, environment: ["SIGIL_EDGE_UNMANAGED": "maybe"])
        #expect(throws: ConfigurationError.self) { try EdgeConfiguration(bad) }
    }
}
