import AsyncHTTPClient
import Foundation
import Hummingbird
import SigilTestSupport
import Testing

@testable import PolicyDecision

/// The posture feeds' HTTP adapters against a local fake of each API (`FakePostureFeeds`): token, paging, scores,
/// refusals.
@Suite("Posture feeds: CrowdStrike-style hosts and Wiz-style clusters pulled over HTTP")
struct PostureFeedTests {
    func withFeeds(_ body: (FakePostureFeeds, HTTPClient, Int) async throws -> Void) async throws {
        let feeds = FakePostureFeeds()
        let server = feeds.application()
        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        try await withThrowingTaskGroup(of: Void.self) { serving in
            serving.addTask { try await server.runService() }
            defer { serving.cancelAll() }
            let started = ContinuousClock.now
            while feeds.port == nil, ContinuousClock.now - started < .seconds(10) {
                try await Task.sleep(for: .milliseconds(20))
            }
            do {
                try await body(feeds, http, try #require(feeds.port))
            } catch {
                try? await http.shutdown()
                throw error
            }
            try await http.shutdown()
        }
    }

    func client(
        _ type: PostureFeedSpec.FeedType, port: Int, http: HTTPClient, secret: String, tokenPath: String? = nil
    ) -> PostureFeedClient {
        PostureFeedClient(
            http: http,
            spec: PostureFeedSpec(
                type: type, url: "http://127.0.0.1:\(port)",
                tokenURL: type == .wiz ? "http://127.0.0.1:\(port)\(tokenPath ?? "/oauth/token")" : nil,
                clientID: "sigil-test", pollIntervalSeconds: 60),
            clientSecret: secret)
    }

    @Test("hosts: hostname and instance id each reported with the Zero Trust score, status and last sight")
    func crowdStrike() async throws {
        try await withFeeds { feeds, http, port in
            let seen = Date(timeIntervalSince1970: 1_800_000_000)
            feeds.host("aid-1", .init(hostname: "Build-01", instanceID: "i-0abc", score: 91, lastSeen: seen))
            feeds.host("aid-2", .init(hostname: "laptop-7", status: "contained", score: 12, lastSeen: seen))
            let client = client(.crowdstrike, port: port, http: http, secret: feeds.clientSecret)
            let token = try await client.token()
            #expect(token.expiresIn == 1799)
            let observed = try await client.pull(token: token.value).sorted { $0.subject < $1.subject }
            #expect(
                observed == [
                    PostureObservation(subject: "build-01", score: 91, status: "normal", lastSeen: seen),
                    PostureObservation(subject: "i-0abc", score: 91, status: "normal", lastSeen: seen),
                    PostureObservation(subject: "laptop-7", score: 12, status: "contained", lastSeen: seen),
                ])
        }
    }

    @Test("clusters: every page, a score from open critical and high issues, status in lower case")
    func wiz() async throws {
        try await withFeeds { feeds, http, port in
            let seen = Date(timeIntervalSince1970: 1_800_000_000)
            feeds.clusters([
                .init(name: "prod-eu", lastSeen: seen), .init(name: "prod-us", critical: 1, high: 2, lastSeen: seen),
                .init(name: "lab", status: "DISCONNECTED", critical: 9, lastSeen: seen),
            ])
            let client = client(.wiz, port: port, http: http, secret: feeds.clientSecret)
            let observed = try await client.pull(token: try await client.token().value)
            #expect(
                observed == [
                    PostureObservation(subject: "prod-eu", score: 100, status: "connected", lastSeen: seen),
                    PostureObservation(subject: "prod-us", score: 70, status: "connected", lastSeen: seen),
                    PostureObservation(subject: "lab", score: 0, status: "disconnected", lastSeen: seen),
                ])
        }
    }

    @Test("a wrong secret, an unknown token and an API that is down are errors that name the endpoint, not the secret")
    func refusals() async throws {
        try await withFeeds { feeds, http, port in
            let wrong = client(.crowdstrike, port: port, http: http, secret: "not-the-secret")
            let refused = await #expect(throws: PostureFeedError.self) { try await wrong.token() }
            #expect(refused?.description == "the token endpoint answered 401")
            let right = client(.crowdstrike, port: port, http: http, secret: feeds.clientSecret)
            let unknown = await #expect(throws: PostureFeedError.self) { try await right.pull(token: "forged") }
            #expect(unknown?.description == "the device query answered 401")
            feeds.fail(true)
            let down = await #expect(throws: PostureFeedError.self) { try await right.token() }
            #expect(down?.description == "the token endpoint answered 503")
            #expect(!"\(String(describing: refused)) \(String(describing: down))".contains(feeds.clientSecret))
        }
    }
}
