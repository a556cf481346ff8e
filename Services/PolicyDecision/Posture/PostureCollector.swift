import AsyncHTTPClient
import Foundation
import Logging
import Metrics
import ServiceLifecycle
import SigilEvents
import SigilPolicy
import SigilService

/// Pulls every tenant's posture feeds, each on its interval, and writes each subject whose score, status or last
/// sight changed to `sigil.posture` (keyed by tenant, feed and subject). A pull that fails writes nothing: the feed's
/// reports age, and the conditions that rely on them fail once they are older than their `maxLastSeenSeconds`
/// (fail closed). Every policy replica pulls; a report one replica wrote is on the board of the others before their
/// next pull, so they write it again only in a race (harmless: the board keeps the latest).
struct PostureCollector: Service {
    let context: ServiceContext
    let board: PostureBoard
    let feeds: ResourceIndex<PostureFeedSpec>

    struct Token {
        let value: String
        let renewAt: ContinuousClock.Instant
        /// The resource version the token was obtained with: a changed secret gets a new token.
        let version: String
    }

    func run() async throws {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.redirectConfiguration = .disallow
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let secrets = try PostureFeedSecrets.configured(context.configuration)
        try? await cancelWhenGracefulShutdown {
            var due: [String: ContinuousClock.Instant] = [:]
            var tokens: [String: Token] = [:]
            while !Task.isCancelled {
                for feed in feeds.everything {
                    let key = "\(feed.metadata.tenant)/\(feed.name)"
                    guard (due[key] ?? .now) <= .now else { continue }
                    due[key] = .now + .seconds(feed.spec.pollIntervalSeconds)
                    do {
                        let written = try await pull(feed, http: http, secrets: secrets, tokens: &tokens, key: key)
                        Counter(label: "sigil.posture.pulls", dimensions: [("outcome", "pulled")]).increment()
                        context.logger.debug(
                            "posture feed pulled", metadata: ["feed": "\(feed.name)", "changed": "\(written)"])
                    } catch {
                        tokens[key] = nil
                        Counter(label: "sigil.posture.pulls", dimensions: [("outcome", "failed")]).increment()
                        context.logger.warning(
                            "posture feed not pulled; its reports age until it answers",
                            metadata: [
                                "tenant": "\(feed.metadata.tenant)", "feed": "\(feed.name)",
                                "error":
                                    "\((error as? PostureFeedError)?.description ?? String(describing: type(of: error)))",
                            ])
                    }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
        try? await http.shutdown()
    }

    /// One pull of one feed; returns how many reports it wrote.
    func pull(
        _ feed: Resource<PostureFeedSpec>, http: HTTPClient, secrets: ResourceSecrets?, tokens: inout [String: Token],
        key: String
    ) async throws -> Int {
        guard let secrets, let encrypted = feed.spec.clientSecretEncrypted else {
            throw PostureFeedError(description: "no \(PostureFeedSecrets.setting) to decrypt the client secret with")
        }
        let tenant = feed.metadata.tenant
        let secret = try secrets.decrypt(
            encrypted, tenant: tenant, kind: .postureFeed, name: feed.name, field: "clientSecret")
        let client = PostureFeedClient(http: http, spec: feed.spec, clientSecret: secret)
        let version = feed.metadata.resourceVersion
        let token: String
        if let held = tokens[key], held.version == version, held.renewAt > .now {
            token = held.value
        } else {
            let (value, expiresIn) = try await client.token()
            tokens[key] = Token(
                value: value, renewAt: .now + .seconds(max(10, expiresIn - 60)), version: version)
            token = value
        }
        let observed = Date()
        var written = 0
        for observation in try await client.pull(token: token) {
            let held = board.report(tenant: tenant, feed: feed.name, subject: observation.subject)
            guard
                held
                    != PostureBoard.Report(
                        score: observation.score, status: observation.status, lastSeen: observation.lastSeen)
            else { continue }
            try await context.publish(
                PostureReported(
                    feed: feed.name, subject: observation.subject, score: observation.score,
                    status: observation.status, lastSeen: observation.lastSeen, observedAt: observed),
                to: .posture, tenant: tenant, partitionKey: "\(tenant)/\(feed.name)/\(observation.subject)",
                subject: observation.subject)
            written += 1
        }
        return written
    }
}
