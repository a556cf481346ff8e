import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import NIOSSL
import Synchronization

/// Key sets published over HTTP: a JWKS URL, or the `jwks_uri` of an issuer's OIDC discovery document. Fetched keys
/// are kept and served until they go stale (Cache-Control max-age, held between 1 minute and 1 day; 5 minutes when
/// none is given); a stale set is refreshed in the background while the last good one keeps serving; a token naming
/// a key the set lacks causes one refetch at most every 30 s per source (a rotation is picked up at once, a stream of
/// made-up key ids is not a stream of fetches). A failed fetch keeps the last good set.
package final class RemoteKeySets: Sendable {
    enum Source: Hashable, Sendable {
        case jwks(URL)
        /// `{issuer}/.well-known/openid-configuration`, whose `jwks_uri` names the set.
        case discovery(issuer: String)
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static let maximumDocumentBytes = 64 * 1024
    static let defaultLifetime: TimeInterval = 300
    static let lifetimeBounds: ClosedRange<TimeInterval> = 60...86_400
    static let unknownKeyRefetchInterval: TimeInterval = 30

    private struct Entry: Sendable {
        var keys: [JWK]
        var staleAt: Date
        var lastFetch: Date
        var refreshing: Bool
        /// When a token last made it fetch again for a key it lacked.
        var lastUnknownKeyFetch: Date = .distantPast
    }

    private let entries = Mutex<[Source: Entry]>([:])
    private let client: HTTPClient
    private let logger: Logger

    /// No redirects: the URL was checked (https, or http to this machine), and a redirect could lead anywhere else
    /// (a cloud metadata address, an internal service). One client for the process, never shut down.
    package static let client: HTTPClient = {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(5))
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    package init(client: HTTPClient = RemoteKeySets.client, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// The source's keys: cached if any (refreshed behind when stale), fetched now otherwise.
    func keys(_ source: Source, now: Date = Date()) async throws -> [JWK] {
        let cached = entries.withLock { entries -> (keys: [JWK], refresh: Bool)? in
            guard var entry = entries[source] else { return nil }
            let refresh = now >= entry.staleAt && !entry.refreshing
            if refresh {
                entry.refreshing = true
                entries[source] = entry
            }
            return (entry.keys, refresh)
        }
        guard let cached else { return try await fetch(source, now: now) }
        if cached.refresh {
            Task { _ = try? await self.fetch(source, now: Date()) }
        }
        return cached.keys
    }

    /// After a token named a key the set lacks: fetched again unless that happened in the last 30 s.
    func keysAfterUnknownKey(_ source: Source, now: Date = Date()) async throws -> [JWK]? {
        let allowed = entries.withLock { entries in
            guard var entry = entries[source] else { return true }
            guard now.timeIntervalSince(entry.lastUnknownKeyFetch) >= Self.unknownKeyRefetchInterval else {
                return false
            }
            entry.lastUnknownKeyFetch = now
            entries[source] = entry
            return true
        }
        guard allowed else { return nil }
        return try await fetch(source, now: now)
    }

    @discardableResult
    private func fetch(_ source: Source, now: Date) async throws -> [JWK] {
        do {
            let url: URL
            switch source {
            case .jwks(let jwksURL): url = jwksURL
            case .discovery(let issuer):
                let discovery = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
                let (document, _) = try await get(try Self.allowedURL(discovery + "/.well-known/openid-configuration"))
                struct Discovery: Decodable {
                    let issuer: String
                    let jwksURI: String
                    enum CodingKeys: String, CodingKey {
                        case issuer
                        case jwksURI = "jwks_uri"
                    }
                }
                let parsed = try JSONDecoder().decode(Discovery.self, from: document)
                // OpenID Connect Discovery 1.0 section 4.3: the document must name the issuer it was fetched for.
                guard parsed.issuer == issuer else {
                    throw Failure(description: "the discovery document names issuer \(parsed.issuer.prefix(200))")
                }
                url = try Self.allowedURL(parsed.jwksURI)
            }
            let (body, maxAge) = try await get(url)
            let keys = try JSONDecoder().decode(JWKS.self, from: body).keys
            guard !keys.isEmpty else { throw Failure(description: "the key set is empty") }
            let lifetime = min(
                max(maxAge ?? Self.defaultLifetime, Self.lifetimeBounds.lowerBound), Self.lifetimeBounds.upperBound)
            entries.withLock { entries in
                entries[source] = Entry(
                    keys: keys, staleAt: now.addingTimeInterval(lifetime), lastFetch: now, refreshing: false,
                    lastUnknownKeyFetch: entries[source]?.lastUnknownKeyFetch ?? .distantPast)
            }
            logger.info("trust provider keys fetched", metadata: ["source": "\(url)", "keys": "\(keys.count)"])
            return keys
        } catch {
            // The last good set stays; it is tried again after the refetch interval.
            let kept = entries.withLock { entries -> [JWK]? in
                guard var entry = entries[source] else { return nil }
                entry.refreshing = false
                entry.lastFetch = now
                entry.staleAt = now.addingTimeInterval(Self.unknownKeyRefetchInterval)
                entries[source] = entry
                return entry.keys
            }
            logger.warning(
                "trust provider keys could not be fetched",
                metadata: ["error": "\(error)", "keptLastGoodSet": "\(kept != nil)"])
            if let kept { return kept }
            throw error
        }
    }

    private func get(_ url: URL) async throws -> (body: Data, maxAge: TimeInterval?) {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await client.execute(request, timeout: .seconds(5))
        guard response.status == .ok else { throw Failure(description: "\(url) answered \(response.status.code)") }
        let body = try await response.body.collect(upTo: Self.maximumDocumentBytes)
        return (Data(buffer: body), Self.maxAge(response.headers["Cache-Control"].joined(separator: ",")))
    }

    /// `max-age` of a Cache-Control header; `no-cache`/`no-store` count as the shortest lifetime.
    static func maxAge(_ header: String) -> TimeInterval? {
        var maxAge: TimeInterval?
        for directive in header.lowercased().split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
            if directive == "no-cache" || directive == "no-store" { return 0 }
            if directive.hasPrefix("max-age="), let seconds = Double(directive.dropFirst(8)), seconds >= 0 {
                maxAge = seconds
            }
        }
        return maxAge
    }

    /// HTTPS, or HTTP to this machine only (a local test issuer); nothing else is fetched.
    static func allowedURL(_ text: String) throws -> URL {
        guard let url = URL(string: text), let host = url.host, let scheme = url.scheme?.lowercased(),
            scheme == "https" || (scheme == "http" && ["127.0.0.1", "localhost", "::1"].contains(host))
        else {
            throw Failure(description: "only https URLs (or http to this machine) are fetched: \(text.prefix(200))")
        }
        return url
    }
}
