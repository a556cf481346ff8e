import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import SigilEvents
import SigilTestSupport
import Testing

@testable import CredentialIssuance

/// The `oauth2-client-credentials` provider's token source against a real OAuth 2.0 authorization server (authlib on
/// Flask, `Peers/oauth_server.py`), started by the test.
@Suite("OAuth 2.0 client credentials against an authlib authorization server")
struct OAuth2ProviderTests {
    /// The authorization server, running until `body` returns.
    static func withServer(
        secret: String, expiresIn: Int = 600,
        _ body: (_ tokenURL: String, _ stats: () async throws -> [String: Any]) async throws -> Void
    ) async throws {
        try await PythonPeer.with("oauth_server.py", ["sigil-client", secret, "read write", String(expiresIn)]) {
            ports in
            let base = "http://127.0.0.1:\(ports[0])"
            try await body("\(base)/oauth/token") {
                let response = try await HTTPClient.shared.execute(
                    HTTPClientRequest(url: "\(base)/stats"), timeout: .seconds(5))
                let data = try await response.body.collect(upTo: 64 * 1024)
                return try JSONSerialization.jsonObject(with: Data(buffer: data)) as? [String: Any] ?? [:]
            }
        }
    }

    func spec(
        _ tokenURL: String, _ authentication: OAuth2ClientCredentials.ClientAuthentication = .basic
    )
        -> OAuth2ClientCredentials
    {
        OAuth2ClientCredentials(
            tokenURL: tokenURL, clientID: "sigil-client", clientAuthentication: authentication,
            scopes: ["read", "write"], inject: .bearer)
    }

    @Test("basic and body client authentication; one token for every edge until near expiry; one request at a time")
    func tokens() async throws {
        let secret = "s3cr3t+/=&" + UUID().uuidString
        try await Self.withServer(secret: secret) { tokenURL, stats in
            let source = OAuth2TokenSource()
            do {
                let first = try await source.token(for: spec(tokenURL), secret: secret, cacheKey: "acme/api/v1")
                #expect(first.expiresAt.timeIntervalSinceNow > 500 && first.expiresAt.timeIntervalSinceNow <= 540)
                #expect((try await stats()["last"] as? [String: String])?["scope"] == "read write")
                // Twenty grants at once for the same provider: served by the one token.
                let values = try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            try await source.token(for: spec(tokenURL), secret: secret, cacheKey: "acme/api/v1").value
                        }
                    }
                    return try await group.reduce(into: Set<String>()) { $0.insert($1) }
                }
                #expect(values == [first.value])
                #expect(try await stats()["tokens"] as? Int == 1)
                // Another provider version (a changed secret or scope) asks again; so does body authentication.
                _ = try await source.token(for: spec(tokenURL, .body), secret: secret, cacheKey: "acme/api/v2")
                #expect(try await stats()["tokens"] as? Int == 2)
            }
        }
    }

    @Test(
        "a wrong secret, a refused scope set and a server that is gone are refusals that name the endpoint, not the secret"
    )
    func refusals() async throws {
        let secret = "right-" + UUID().uuidString
        let source = OAuth2TokenSource()
        try await Self.withServer(secret: secret) { tokenURL, _ in
            do {
                _ = try await source.token(for: spec(tokenURL), secret: "wrong", cacheKey: "a")
                Issue.record("a wrong secret got a token")
            } catch let refusal as RefusalReason {
                #expect(refusal.code == "authorization-server-refused")
                #expect(
                    refusal.detail == "the token endpoint \(tokenURL) answered 401 invalid_client", "\(refusal.detail)")
                #expect(!refusal.detail.contains("wrong") && !refusal.detail.contains(secret))
            }
            var unknownScope = spec(tokenURL)
            unknownScope.scopes = ["admin"]
            do {
                _ = try await source.token(for: unknownScope, secret: secret, cacheKey: "c")
                Issue.record("a scope the server does not know got a token")
            } catch let refusal as RefusalReason {
                #expect(
                    refusal.detail == "the token endpoint \(tokenURL) answered 400 invalid_scope", "\(refusal.detail)")
            }
        }
        do {
            // Nothing listens on the discard port.
            _ = try await source.token(for: spec("http://127.0.0.1:9/oauth/token"), secret: secret, cacheKey: "b")
            Issue.record("a stopped server gave a token")
        } catch let refusal as RefusalReason {
            #expect(refusal.code == "authorization-server-unavailable", "\(refusal)")
        }
    }

    @Test("a token that is about to expire is replaced")
    func expiry() async throws {
        let secret = "s-" + UUID().uuidString
        try await Self.withServer(secret: secret, expiresIn: 2) { tokenURL, stats in
            let source = OAuth2TokenSource()
            let first = try await source.token(for: spec(tokenURL), secret: secret, cacheKey: "k")
            try await Task.sleep(for: .seconds(2))
            let second = try await source.token(for: spec(tokenURL), secret: secret, cacheKey: "k")
            #expect(first.value != second.value)
            #expect(try await stats()["tokens"] as? Int == 2)
        }
    }
}
