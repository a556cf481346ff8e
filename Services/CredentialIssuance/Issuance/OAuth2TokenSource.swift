import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilEvents

/// Access tokens from OAuth 2.0 authorization servers (client-credentials grant, RFC 6749 §4.4), cached per tenant and
/// provider — and per provider version, so an updated secret or scope takes effect at once — until a minute (or a
/// tenth of the lifetime, if shorter) before they expire: every edge of the tenant is served from one token. One
/// request per provider at a time; concurrent grants wait for it. What the authorization server says goes back as a
/// refusal with its `error` code, never the secret or the token.
final class OAuth2TokenSource: Sendable {
    struct Token: Sendable {
        let value: String
        let expiresAt: Date
    }

    private let http: HTTPClient
    private let cache = SharedCredentialCache<Token> { $0.expiresAt }

    init(http: HTTPClient = OutboundHTTP.client) {
        self.http = http
    }

    /// A token for the provider, from the cache while it is fresh.
    func token(
        for spec: OAuth2ClientCredentials, secret: String, cacheKey: String, now: Date = Date()
    ) async throws -> Token {
        try await cache.value(cacheKey, now: now) { [self] in try await request(spec, secret: secret) }
    }

    /// How many tokens are cached (for tests and status).
    var cached: Int { cache.count }

    func request(_ spec: OAuth2ClientCredentials, secret: String) async throws -> Token {
        var form = [("grant_type", "client_credentials")]
        if let scopes = spec.scopes { form.append(("scope", scopes.joined(separator: " "))) }
        if let audience = spec.audience { form.append(("audience", audience)) }
        if let resource = spec.resource { form.append(("resource", resource)) }
        var request = HTTPClientRequest(url: spec.tokenURL)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "accept", value: "application/json")
        switch spec.clientAuthentication {
        case .basic:
            // RFC 6749 §2.3.1: id and secret form-encoded, then joined with a colon and base64-encoded.
            let pair = OutboundHTTP.formEncoded(spec.clientID) + ":" + OutboundHTTP.formEncoded(secret)
            request.headers.add(name: "authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        case .body:
            form += [("client_id", spec.clientID), ("client_secret", secret)]
        }
        request.body = .bytes(OutboundHTTP.form(form))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 256 * 1024)
        } catch {
            throw RefusalReason(
                code: "authorization-server-unavailable",
                detail: "the token endpoint \(OutboundHTTP.redacted(spec.tokenURL)) did not answer")
        }
        struct Answer: Decodable {
            let accessToken: String?
            let tokenType: String?
            let expiresIn: Int?
            let error: String?

            enum CodingKeys: String, CodingKey {
                case accessToken = "access_token", tokenType = "token_type", expiresIn = "expires_in", error
            }
        }
        let answer = try? JSONDecoder().decode(Answer.self, from: body)
        guard (200..<300).contains(response.status.code), let token = answer?.accessToken, !token.isEmpty else {
            // The error code is from a registry (invalid_client, invalid_scope, ...); shown only if it is one.
            let code = answer?.error.flatMap { $0.allSatisfy { $0.isLetter || $0 == "_" } && $0.count <= 64 ? $0 : nil }
            throw RefusalReason(
                code: "authorization-server-refused",
                detail: "the token endpoint \(OutboundHTTP.redacted(spec.tokenURL)) answered \(response.status.code)"
                    + (code.map { " \($0)" } ?? ""))
        }
        guard answer?.tokenType.map({ $0.lowercased() == "bearer" }) ?? true else {
            throw RefusalReason(
                code: "authorization-server-refused",
                detail: "the token endpoint issued a token of type \(answer?.tokenType?.prefix(32) ?? ""), not Bearer")
        }
        let lifetime = TimeInterval(max(1, answer?.expiresIn ?? 300))
        let margin = min(60, lifetime / 10)
        return Token(value: token, expiresAt: Date().addingTimeInterval(lifetime - margin))
    }

}
