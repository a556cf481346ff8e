import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SigilEvents

/// One subject's posture as a feed reports it, before it becomes a `PostureReported`.
struct PostureObservation: Sendable, Equatable {
    let subject: String
    let score: Int?
    let status: String?
    let lastSeen: Date
}

/// Why a pull failed, in words safe to log (never the secret, never a token).
struct PostureFeedError: Error, CustomStringConvertible {
    let description: String
}

/// Pulls a feed over HTTP: an OAuth 2.0 client-credentials token (kept until shortly before it expires), then the
/// feed's own API. Bodies are bounded (4 MiB) and decoded into typed responses; anything else is a `PostureFeedError`.
struct PostureFeedClient: Sendable {
    let http: HTTPClient
    let spec: PostureFeedSpec
    let clientSecret: String

    static let maximumBody = 4 * 1024 * 1024

    /// Every subject the feed reports on now.
    func pull(token: String) async throws -> [PostureObservation] {
        switch spec.type {
        case .crowdstrike: try await CrowdStrikeHosts(client: self, token: token).pull()
        case .wiz: try await WizClusters(client: self, token: token).pull()
        }
    }

    /// A bearer token and its lifetime, by client credentials (the secret in the form body, as both APIs take it).
    func token() async throws -> (value: String, expiresIn: Int) {
        struct Token: Decodable {
            let accessToken: String
            let expiresIn: Int?

            enum CodingKeys: String, CodingKey {
                case accessToken = "access_token", expiresIn = "expires_in"
            }
        }
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "grant_type", value: "client_credentials"),
            URLQueryItem(name: "client_id", value: spec.clientID),
            URLQueryItem(name: "client_secret", value: clientSecret),
        ]
        if spec.type == .wiz { form.queryItems?.append(URLQueryItem(name: "audience", value: "wiz-api")) }
        let body = (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let token: Token = try await send(
            .POST, spec.effectiveTokenURL, headers: [("content-type", "application/x-www-form-urlencoded")],
            body: body, what: "the token endpoint")
        return (token.accessToken, token.expiresIn ?? 300)
    }

    /// One request; a 2xx JSON body decoded as `T`, or an error naming the status and the endpoint (no query).
    func send<T: Decodable>(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: String? = nil, what: String
    ) async throws -> T {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: .seconds(30))
        } catch {
            throw PostureFeedError(description: "\(what) did not answer: \(type(of: error))")
        }
        let bytes = try await response.body.collect(upTo: Self.maximumBody)
        guard (200..<300).contains(response.status.code) else {
            throw PostureFeedError(description: "\(what) answered \(response.status.code)")
        }
        do {
            return try JSONDecoder.posture.decode(T.self, from: bytes)
        } catch {
            throw PostureFeedError(description: "\(what) answered with a body Sigil does not understand")
        }
    }
}

extension JSONDecoder {
    /// ISO 8601 times with or without fractional seconds (`2026-11-26T10:00:00Z`, `...00.123Z`).
    static let posture: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            guard let date = CloudEvent.parseTime(text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a time"))
            }
            return date
        }
        return decoder
    }()
}
