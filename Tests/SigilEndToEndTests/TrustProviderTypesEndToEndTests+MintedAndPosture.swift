import Foundation
import SigilClient
import SigilEvents
import SigilTestSupport
import Testing

/// The trust-provider suite's last steps, each on the constellation the suite started: a credential Sigil mints, and
/// access withdrawn when a posture feed's report turns bad.
extension TrustProviderTypesEndToEndTests {
    func mintedToken(_ constellation: LocalConstellation, upstream: DemoUpstream, port: Int) async throws {
        let admin = constellation.admin
        // A minted JWT: the deployer (GitHub Actions evidence) reaches the API's /identity part — a server workload of
        // its own by path — with a token Sigil signs for it, carrying a claim from its attested identity; PyJWT
        // verifies the token against the JWKS sigil-issue serves, as a third party would.
        let minted = try await admin.apply([
            .init(
                kind: .credentialProvider, name: "api-jwt",
                spec: [
                    "type": "jwt", "audience": ["demo-api"], "ttlSeconds": 120,
                    "claims": ["repo": ["claim": "repository"], "team": ["value": "platform"]],
                ]),
            .init(
                kind: .serverWorkload, name: "api-identity",
                spec: [
                    "scheme": "http", "host": "127.0.0.1", "port": .number(Double(port)), "pathPrefix": "/identity",
                ]),
            .init(
                kind: .accessPolicy, name: "deployer-identity",
                spec: [
                    "clientWorkload": "deployer", "serverWorkload": "api-identity", "trustProvider": "github",
                    "credentialProvider": "api-jwt",
                ]),
        ])
        #expect(minted.allSatisfy { $0.change != nil }, "\(minted.map { $0.detail ?? "" })")
        let identityAnswer = try await AdminClient.waitFor("the minted token to reach the API", within: .seconds(20)) {
            let answer = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/identity", proxyHost: "127.0.0.1", proxyPort: 7490)
            return answer.status == 200 ? answer : nil
        }
        #expect(identityAnswer.body.contains("identity token received"))
        let token = try #require(upstream.lastBearerToken)
        let issueURL = try admin.setting("SIGIL_ISSUE_URL")
        let tenant = constellation.settings["SIGIL_TENANT"] ?? "default"
        let (jwksStatus, jwksData, _) = try await admin.send(
            .GET, "\(issueURL)/tenants/\(tenant)/.well-known/jwks.json")
        let jwksBody = String(decoding: jwksData, as: UTF8.self)
        #expect(jwksStatus == 200, "\(jwksBody)")
        let verified = try #require(try PyJWT.verify(jwks: jwksBody, tokens: [token], audience: "demo-api").first)
        #expect(verified["sub"] as? String == "deployer", "\(verified)")
        #expect(verified["repo"] as? String == "octo-org/octo-repo" && verified["team"] as? String == "platform")
        #expect(verified["iss"] as? String == "\(issueURL)/tenants/\(tenant)")
    }

    func postureRevokes(
        _ admin: AdminClient, request: (Int) async throws -> ForwardProxyRequest.Response
    ) async throws {
        // Posture: the EC2 worker's access now needs its instance healthy in a CrowdStrike-style feed (a local fake,
        // pulled by sigil-policy every 5 s). When the score falls, the credential the edge holds is revoked within
        // seconds and the next request is refused, the explanation saying what the feed reported.
        let feeds = FakePostureFeeds()
        let instance = "i-0abc123def4567890"
        feeds.host("aid-1", .init(hostname: "build-01", instanceID: instance, score: 90, lastSeen: Date()))
        try await withThrowingTaskGroup(of: Void.self) { serving in
            let server = feeds.application()
            serving.addTask { try await server.runService() }
            defer { serving.cancelAll() }
            let feedPort = try await AdminClient.waitFor("the posture feed to listen") { feeds.port }
            let applied = try await admin.apply([
                .init(
                    kind: .postureFeed, name: "falcon",
                    spec: [
                        "type": "crowdstrike", "url": .string("http://127.0.0.1:\(feedPort)"),
                        "clientID": .string(feeds.clientID), "clientSecret": .string(feeds.clientSecret),
                        "pollIntervalSeconds": 5,
                    ]),
                .init(
                    kind: .accessPolicy, name: "ec2-worker-api",
                    spec: [
                        "clientWorkload": "ec2-worker", "serverWorkload": "api", "trustProvider": "ec2",
                        "credentialProvider": "api-key",
                        "conditions": [
                            "posture": [
                                [
                                    "feed": "falcon", "subjectClaim": "instanceId", "minimumScore": 70,
                                    "maxLastSeenSeconds": 600,
                                ]
                            ]
                        ],
                    ]),
            ])
            #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")
            try await AdminClient.waitFor("the healthy instance to be granted", within: .seconds(30)) {
                try await request(7495).status == 200 ? true : nil
            }
            feeds.host("aid-1", .init(hostname: "build-01", instanceID: instance, score: 20, lastSeen: Date()))
            let turnedBad = ContinuousClock.now
            let refused = try await AdminClient.waitFor("the credential to be revoked", within: .seconds(30)) {
                let answer = try await request(7495)
                return answer.status == 403 ? answer : nil
            }
            #expect(ContinuousClock.now - turnedBad < .seconds(15), "a poll (5 s) and the revocation")
            #expect(refused.body.contains("posture") && refused.body.contains("score 20"), "\(refused.body)")
            #expect(!refused.body.contains(feeds.clientSecret))
        }
    }
}
