import Foundation
import SigilClient
import Testing

/// The trust-provider suite's static-injection step: a `static` credential injected as `Authorization: Basic` and as
/// a query parameter, through the edge, replacing what the workload sent under those names.
extension TrustProviderTypesEndToEndTests {
    func staticInjections(_ constellation: LocalConstellation, port: Int) async throws {
        let admin = constellation.admin
        let queryKey = "sk_query_" + UUID().uuidString.prefix(8)
        let applied = try await admin.apply(
            [
                .init(
                    kind: .credentialProvider, name: "echo-basic",
                    spec: ["type": "static", "inject": "basic", "value": "svc-reports:p@ss word"]),
                .init(
                    kind: .credentialProvider, name: "echo-query",
                    spec: ["type": "static", "inject": "query", "parameter": "api_key", "value": .string(queryKey)]),
            ]
                + deployerRoute("echo-basic", port: port, prefix: "/echo/basic", provider: "echo-basic")
                + deployerRoute("echo-query", port: port, prefix: "/echo/query", provider: "echo-query"))
        #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")
        let basic = try await AdminClient.waitFor("the basic credential to reach the API", within: .seconds(20)) {
            let answer = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/echo/basic", proxyHost: "127.0.0.1", proxyPort: 7490,
                headers: [("Authorization", "Bearer workload-own")])
            return answer.status == 200 ? answer : nil
        }
        let encoded = Data("svc-reports:p@ss word".utf8).base64EncodedString()
        #expect(basic.body.contains("authorization=Basic \(encoded)\n"), "\(basic.body)")
        let query = try await AdminClient.waitFor("the query credential to reach the API", within: .seconds(20)) {
            let answer = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/echo/query?api_key=mine&page=2", proxyHost: "127.0.0.1", proxyPort: 7490)
            return answer.status == 200 ? answer : nil
        }
        #expect(query.body.contains("query=page=2&api_key=\(queryKey)\n"), "\(query.body)")
        #expect(!query.body.contains("mine"))
    }
}
