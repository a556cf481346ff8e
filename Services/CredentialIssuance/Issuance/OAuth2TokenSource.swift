import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilEvents
import Synchronization

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
    private let cache = Mutex<[String: Token]>([:])
    private let inflight = Mutex<[String: Task<Token, any Error>]>([:])

    init(http: HTTPClient = OAuth2TokenSource.client) {
        self.http = http
    }

    /// One client for the process's lifetime (never shut down, so never deinitialized: AsyncHTTPClient traps on a
    /// client dropped without `shutdown()`); no redirects, so a client secret never follows one to another host.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

    static var configuration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(10))
        configuration.redirectConfiguration = .disallow
        return configuration
    }

    /// A token for the provider, from the cache while it is fresh.
    func token(
        for spec: OAuth2ClientCredentials, secret: String, cacheKey: String, now: Date = Date()
    ) async throws -> Token {
        if let held = cache.withLock({ $0[cacheKey] }), held.expiresAt > now { return held }
        let task = inflight.withLock { inflight in
            if let running = inflight[cacheKey] { return running }
            let task = Task { [self] in
                defer { _ = self.inflight.withLock { $0.removeValue(forKey: cacheKey) } }
                let token = try await request(spec, secret: secret)
                self.cache.withLock { $0[cacheKey] = token }
                return token
            }
            inflight[cacheKey] = task
            return task
        }
        return try await task.value
    }

    /// How many tokens are cached (for tests and status).
    var cached: Int { cache.withLock { $0.count } }

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
            let pair = Self.formEncoded(spec.clientID) + ":" + Self.formEncoded(secret)
            request.headers.add(name: "authorization", value: "Basic " + Data(pair.utf8).base64EncodedString())
        case .body:
            form += [("client_id", spec.clientID), ("client_secret", secret)]
        }
        request.body = .bytes(
            ByteBuffer(
                string: form.map { "\(Self.formEncoded($0.0))=\(Self.formEncoded($0.1))" }.joined(separator: "&")))
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 256 * 1024)
        } catch {
            throw RefusalReason(
                code: "authorization-server-unavailable",
                detail: "the token endpoint \(Self.redacted(spec.tokenURL)) did not answer")
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
                detail: "the token endpoint \(Self.redacted(spec.tokenURL)) answered \(response.status.code)"
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

    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._*")
        return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "").replacingOccurrences(
            of: "%20", with: "+")
    }

    static func redacted(_ url: String) -> String { String(url.split(separator: "?", maxSplits: 1).first ?? "") }
}
