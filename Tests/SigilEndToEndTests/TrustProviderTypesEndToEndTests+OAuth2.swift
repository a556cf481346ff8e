import Foundation
import SigilClient
import SigilTestSupport
import Testing

/// The trust-provider suite's OAuth 2.0 step: the API wants an access token from an authorization server (authlib,
/// `Peers/oauth_server.py`); sigil-issue is the OAuth client and the edge injects the token, one token for many
/// requests; a wrong client secret is refused in the authorization server's words.
extension TrustProviderTypesEndToEndTests {
    func oauth2AccessToken(_ constellation: LocalConstellation, upstream: DemoUpstream, port: Int) async throws {
        let admin = constellation.admin
        let secret = "oauth-secret-" + UUID().uuidString
        try await PythonPeer.with("oauth_server.py", ["sigil-client", secret, "reports.read", "600"]) { ports in
            let base = "http://127.0.0.1:\(ports[0])"
            func provider(_ name: String, secret: String) -> ResourceDocument {
                .init(
                    kind: .credentialProvider, name: name,
                    spec: [
                        "type": "oauth2-client-credentials", "tokenURL": .string("\(base)/oauth/token"),
                        "clientID": "sigil-client", "clientSecret": .string(secret), "scopes": ["reports.read"],
                    ])
            }
            let applied = try await admin.apply(
                [provider("reports-oauth", secret: secret), provider("reports-oauth-wrong", secret: "not-it")]
                    + deployerRoute("oauth-api", port: port, prefix: "/identity/oauth", provider: "reports-oauth")
                    + deployerRoute(
                        "oauth-refused", port: port, prefix: "/identity/wrong", provider: "reports-oauth-wrong"))
            #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")
            _ = try await AdminClient.waitFor("the access token to reach the API", within: .seconds(20)) {
                let answer = try await ForwardProxyRequest.get(
                    "http://127.0.0.1:\(port)/identity/oauth/reports", proxyHost: "127.0.0.1", proxyPort: 7490)
                return answer.status == 200 ? answer : nil
            }
            for _ in 0..<5 {
                let again = try await ForwardProxyRequest.get(
                    "http://127.0.0.1:\(port)/identity/oauth/reports", proxyHost: "127.0.0.1", proxyPort: 7490)
                #expect(again.status == 200)
            }
            let (_, data, _) = try await admin.send(.GET, "\(base)/stats")
            let stats = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            #expect(stats["tokens"] as? Int == 1, "one token for every request: \(stats)")
            #expect(upstream.lastBearerToken != nil && upstream.lastBearerToken == stats["lastToken"] as? String)
            #expect((stats["last"] as? [String: Any])?["scope"] as? String == "reports.read")

            let refused = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/identity/wrong", proxyHost: "127.0.0.1", proxyPort: 7490)
            #expect(refused.status == 403, "\(refused.body)")
            #expect(refused.body.contains("authorization-server-refused") && refused.body.contains("invalid_client"))
            #expect(!refused.body.contains(secret) && !refused.body.contains("not-it"))
        }
    }
}
