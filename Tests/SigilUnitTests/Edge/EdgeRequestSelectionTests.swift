import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import SigilPolicy
import Testing

@testable import EdgeProxy

/// What the edge tells the control plane of a request, and which credential it uses for which request, when policies
/// route credentials by header or path, judge the source address, or server workloads split a host by path. Part of
/// `EdgeProxyTests`, whose tests run one at a time.
extension EdgeProxyTests {
    /// Tells the edge of a policy about `test-api` (as the configuration topic would).
    func policy(_ edge: EdgeUnderTest, _ name: String, _ extra: String) throws {
        let json = """
            {"clientWorkload": "billing", "serverWorkload": "test-api", "trustProvider": "cluster",
             "credentialProvider": "k", "ttlSeconds": 300\(extra)}
            """
        edge.inputs.apply(policy: name, spec: try JSONDecoder().decode(AccessPolicySpec.self, from: Data(json.utf8)))
    }

    @Test("a credential per routed header value and per source; only the routed header leaves the edge")
    func routedHeaders() async throws {
        try await withEdge { edge, upstream in
            try policy(
                edge, "routed",
                #", "credentialRoutes": [{"when": {"header": {"name": "X-Account", "values": ["eu"]}}, "credentialProvider": "eu"}], "conditions": {"sourceNetworks": ["127.0.0.0/8"]}"#
            )
            let url = "http://127.0.0.1:\(upstream.port)/key"
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for account in ["eu", "us", "eu", "us", "eu"] {
                    let response = try await connection.send(
                        .GET, url, headers: ["X-Account": account, "Authorization": "Bearer workload-own-secret"])
                    #expect(response.status == 200)
                }
                #expect(try await connection.send(.GET, url).status == 200, "no header: its own credential")
                let twice = try await connection.send(
                    .GET, url, headers: HTTPHeaders([("X-Account", "eu"), ("x-account", "us")]))
                #expect(twice.status == 400)
                #expect(twice.problemType?.hasSuffix("ambiguous-header") == true)
            }
            let asked = edge.requester.asked.withLockedValue { $0 }
            #expect(asked.count == 3, "eu, us and none: one access request each")
            #expect(Set(asked.map { $0.request.headers }) == [["x-account": "eu"], ["x-account": "us"], [:]])
            #expect(asked.allSatisfy { $0.request.source == "127.0.0.1" && $0.request.path == "/key" })
            #expect(asked.allSatisfy { $0.request.headers["authorization"] == nil })
        }
    }

    @Test("server workloads split one host by path and method; an ambiguous path is refused, never routed")
    func pathScopedServerWorkloads() async throws {
        try await withEdge { edge, upstream in
            let target = AccessTarget(scheme: "http", host: "127.0.0.1", port: upstream.port)
            edge.serverWorkloads.define(
                EdgeServerWorkload(
                    name: "test-api-admin", target: target, scope: RequestScope(methods: nil, pathPrefix: "/admin")))
            let base = "http://127.0.0.1:\(upstream.port)"
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for path in ["/admin/key", "/administrator", "/key?next=/admin"] {
                    _ = try await connection.send(.GET, base + path)
                }
                for path in ["/public/../admin/key", "/%2e%2e/admin", "/admin%2Fkey", "/x/./admin"] {
                    let response = try await connection.send(.GET, base + path)
                    #expect(response.status == 400, "\(path)")
                    #expect(response.problemType?.hasSuffix("ambiguous-path") == true, "\(path)")
                }
                #expect(try await connection.send(.GET, base + "/key").status == 200, "the connection goes on")
            }
            let asked = edge.requester.asked.withLockedValue { $0.map(\.serverWorkload) }
            #expect(asked == ["test-api-admin", "test-api"], "one credential for each server workload")
        }
    }

    @Test(
        "a query-parameter credential reaches the upstream in the query, the workload's own value gone; basic as a header"
    )
    func injectedQueryAndBasic() async throws {
        let query = FakeAccessRequester(injection: .query(parameter: "api_key", value: "k&1 2"))
        try await withEdge(requester: query) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let echo = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/echo?api_key=mine&page=2")
                #expect(echo.status == 200)
                #expect(echo.text.contains("?page=2&api_key=k%261%202\""), "\(echo.text)")
                #expect(!echo.text.contains("mine"), "the workload's own value is gone")
            }
        }
        let basic = FakeAccessRequester(injection: .header(name: "Authorization", value: "Basic c3ZjOnB3"))
        try await withEdge(requester: basic) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let echo = try await connection.send(
                    .GET, "http://127.0.0.1:\(upstream.port)/echo", headers: ["Authorization": "Bearer workload-own"])
                #expect(echo.text.contains("Basic c3ZjOnB3") && !echo.text.contains("workload-own"), "\(echo.text)")
            }
        }
    }
}
