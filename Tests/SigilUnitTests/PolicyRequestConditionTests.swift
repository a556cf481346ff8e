import Foundation
import SigilEvents
import SigilService
import Testing

@testable import PolicyDecision
@testable import SigilPolicy

@Suite("Policy: server workloads by method and path, source networks, credentials routed by the request")
struct PolicyRequestConditionTests {
    let target = AccessTarget(scheme: "https", host: "ledger.internal", port: 443)

    /// An engine over server workloads (name → extra spec fields at ledger.internal:443) and policies (name → spec,
    /// client `billing`).
    func engine(
        servers: [(String, [String: JSONValue])] = [("ledger", [:])], policies: [(String, [String: JSONValue])],
        geography: (any GeoLocator)? = nil, posture: PostureBoard? = nil
    ) async throws -> PolicyEngine {
        let context = try await ResourceBench.context(.policyDecision)
        for (name, extra) in servers {
            context.resources.index(ServerWorkloadSpec.self).define(
                try await ResourceBench.admit(
                    ServerWorkloadSpec.self, name,
                    .object(["host": "ledger.internal", "port": 443].merging(extra) { $1 }), context: context))
        }
        for (name, spec) in policies {
            let fields: [String: JSONValue] = [
                "clientWorkload": "billing", "serverWorkload": "ledger", "trustProvider": "cluster",
            ]
            context.resources.index(AccessPolicySpec.self).define(
                try await ResourceBench.admit(
                    AccessPolicySpec.self, name, .object(fields.merging(spec) { $1 }), context: context))
        }
        return PolicyEngine(context.resources, geography: geography, posture: posture)
    }

    /// A geolocation database as a table.
    struct Places: GeoLocator {
        let places: [String: GeoLocation]
        func locate(_ address: IPAddress) -> GeoLocation? { places[address.description] }
    }

    func decide(
        _ engine: PolicyEngine, _ method: String = "GET", _ path: String = "/", from source: String? = "10.0.0.1",
        headers: [String: String] = [:]
    ) -> PolicyEngine.Decision {
        engine.decide(
            clientWorkload: "billing", target: target,
            request: RequestAttributes(method: method, path: path, source: source, headers: headers),
            trustProviders: ["cluster"], tenant: "acme", at: Date())
    }

    @Test(
        "of the server workloads at one host, the longest path prefix covering the path, by whole segments, then methods"
    )
    func serverScopes() async throws {
        let engine = try await engine(
            servers: [
                ("ledger", [:]), ("ledger-admin", ["pathPrefix": "/v1/admin"]),
                ("ledger-admin-writes", ["pathPrefix": "/v1/admin", "methods": ["POST", "DELETE"]]),
            ],
            policies: [("any", ["credentialProvider": "k"])])
        let cases: [(String, String, String?)] = [
            ("GET", "/v1/admin", "ledger-admin"),
            ("GET", "/v1/admin/users", "ledger-admin"),
            ("POST", "/v1/admin/users", "ledger-admin-writes"),
            ("GET", "/v1/administrator", "ledger"),
            ("POST", "/v1/pay", "ledger"),
        ]
        for (method, path, server) in cases {
            #expect(decide(engine, method, path).serverWorkload == server, "\(method) \(path)")
        }
        // A path that could be read as another refuses rather than falling through to the catch-all.
        for path in ["/v1/public/../admin", "/v1/%2e%2e/admin", "/v1%2Fadmin", "/v1/admin/./x", "/v1\\admin"] {
            #expect(decide(engine, "GET", path).refusal?.code == "ambiguous-path", "\(path)")
        }
        // Without request attributes (an older edge): only the server workload without a scope.
        let old = engine.decide(
            clientWorkload: "billing", target: target, trustProviders: ["cluster"], tenant: "acme", at: Date())
        #expect(old.serverWorkload == "ledger")
    }

    @Test("source networks: CIDR edges, IPv6, IPv4-mapped addresses, and an unknown source fails the condition")
    func sourceNetworks() async throws {
        let engine = try await engine(policies: [
            (
                "office",
                ["credentialProvider": "k", "conditions": ["sourceNetworks": ["10.1.2.0/24", "2001:db8::/32"]]]
            )
        ])
        let cases: [(String?, Bool)] = [
            ("10.1.2.0", true), ("10.1.2.255", true), ("10.1.1.255", false), ("10.1.3.0", false),
            ("::ffff:10.1.2.7", true), ("2001:db8:ffff::1", true), ("2001:db9::1", false), (nil, false),
            ("not-an-address", false),
        ]
        for (source, granted) in cases {
            let decision = decide(engine, from: source)
            #expect((decision.policy != nil) == granted, "\(source ?? "nil")")
            if !granted {
                let check = decision.explanation?.policies.first?.checks.first { $0.condition == "sourceNetworks" }
                #expect(check?.satisfied == false)
                #expect(check?.expected == "10.1.2.0/24, 2001:db8::/32")
            }
        }
        let denied = try await self.engine(policies: [
            ("all", ["credentialProvider": "k"]),
            ("no-guests", ["effect": "deny", "conditions": ["sourceNetworks": ["192.168.0.0/16"]]]),
        ])
        #expect(decide(denied, from: "192.168.4.4").refusal?.code == "denied-by-policy")
        #expect(decide(denied, from: "10.0.0.1").policy?.name == "all")
    }

    @Test("geography: a country or a subdivision holds; an unknown place, no address or no database fails, explained")
    func geography() async throws {
        let places = Places(places: [
            "81.2.69.1": GeoLocation(country: "GB", subdivisions: ["GB-ENG"]),
            "216.160.83.1": GeoLocation(country: "US", subdivisions: ["US-WA"]),
            "216.160.84.1": GeoLocation(country: "US", subdivisions: ["US-CA"]),
        ])
        let policy: [(String, [String: JSONValue])] = [
            (
                "europe-and-washington",
                [
                    "credentialProvider": "k",
                    "conditions": ["geography": ["countries": ["GB", "DE"], "subdivisions": ["US-WA"]]],
                ]
            )
        ]
        let engine = try await engine(policies: policy, geography: places)
        #expect(decide(engine, from: "81.2.69.1").policy != nil)
        #expect(decide(engine, from: "216.160.83.1").policy != nil)
        let california = decide(engine, from: "216.160.84.1")
        #expect(california.refusal?.code == "no-matching-policy")
        let check = california.explanation?.policies.first?.checks.first { $0.condition == "geography" }
        #expect(check?.expected == "GB, DE, US-WA")
        #expect(check?.actual == "US / US-CA (216.160.84.1)")
        func actual(_ decision: PolicyEngine.Decision) -> String? {
            decision.explanation?.policies.first?.checks.first { $0.condition == "geography" }?.actual
        }
        #expect(actual(decide(engine, from: "10.0.0.1")) == "unknown place (10.0.0.1 is not in the database)")
        #expect(actual(decide(engine, from: nil)) == "unknown (the edge did not say)")
        let blind = try await self.engine(policies: policy)
        #expect(decide(blind, from: "81.2.69.1").policy == nil, "no database: the condition fails")
        #expect(actual(decide(blind, from: "81.2.69.1"))?.contains("SIGIL_POLICY_GEOIP_DATABASE") == true)
    }

    @Test("posture: fresh up to exactly maxLastSeen, then stale; score and status; the grant ends when the report ages")
    func posture() async throws {
        let board = PostureBoard()
        let seen = Date(timeIntervalSince1970: 1_800_000_000)
        func report(_ subject: String, score: Int?, status: String?, lastSeen: Date = seen) {
            board.record([
                (
                    "acme",
                    PostureReported(
                        feed: "falcon", subject: subject, score: score, status: status, lastSeen: lastSeen,
                        observedAt: lastSeen)
                )
            ])
        }
        report("host-a", score: 85, status: "normal")
        report("host-b", score: 60, status: "normal")
        report("host-c", score: 95, status: "contained")
        let engine = try await engine(
            policies: [
                (
                    "healthy-hosts",
                    [
                        "credentialProvider": "k",
                        "conditions": [
                            "posture": [
                                [
                                    "feed": "falcon", "subjectClaim": "hostname", "minimumScore": 70,
                                    "statuses": ["normal"], "maxLastSeenSeconds": 600,
                                ]
                            ]
                        ],
                    ]
                )
            ], posture: board)
        func decide(_ host: String?, at seconds: TimeInterval) -> PolicyEngine.Decision {
            engine.decide(
                clientWorkload: "billing", target: target, request: RequestAttributes(method: "GET", path: "/"),
                trustProviders: ["cluster"], claims: host.map { ["hostname": $0] } ?? [:], tenant: "acme",
                at: seen.addingTimeInterval(seconds))
        }
        func check(_ decision: PolicyEngine.Decision) -> ConditionCheck? {
            decision.explanation?.policies.first?.checks.first { $0.condition == "posture" }
        }
        let fresh = decide("host-a", at: 60)
        #expect(fresh.policy != nil)
        #expect(fresh.ttlSeconds == 300, "the policy's TTL: the report stays fresh for 540 s more")
        #expect(decide("host-a", at: 480).ttlSeconds == 120, "cut to when the report goes stale")
        #expect(decide("host-a", at: 600).policy != nil, "exactly maxLastSeen old still holds")
        let stale = decide("host-a", at: 601)
        #expect(stale.policy == nil)
        #expect(check(stale)?.actual.contains("(stale)") == true, "\(check(stale)?.actual ?? "")")
        #expect(decide("host-b", at: 60).policy == nil, "score 60 < 70")
        #expect(decide("host-c", at: 60).policy == nil, "contained")
        #expect(check(decide("host-z", at: 60))?.actual == "no report of host-z from falcon")
        #expect(check(decide(nil, at: 60))?.actual == "the client has no claim hostname")
        #expect(check(fresh)?.expected == "falcon: claim hostname, score >= 70, status normal, seen within 600 s")
        // A newer report replaces the held one; an older one does not.
        report("host-a", score: 40, status: "normal", lastSeen: seen.addingTimeInterval(30))
        #expect(decide("host-a", at: 60).policy == nil)
        report("host-a", score: 99, status: "normal", lastSeen: seen)
        #expect(decide("host-a", at: 60).policy == nil, "an older report does not come back")
    }

    @Test("credential routes: the first route whose conditions hold names the credential, else the default")
    func credentialRoutes() async throws {
        let routes: JSONValue = [
            ["when": ["header": ["name": "X-Account", "values": ["eu", "eu-west"]]], "credentialProvider": "eu-key"],
            ["when": ["pathPrefix": "/v1/reports", "methods": ["GET"]], "credentialProvider": "reader-key"],
        ]
        let engine = try await engine(policies: [
            ("routed", ["credentialProvider": "default-key", "credentialRoutes": routes])
        ])
        #expect(decide(engine, headers: ["x-account": "eu-west"]).credentialProvider == "eu-key")
        #expect(decide(engine, headers: ["x-account": "EU"]).credentialProvider == "default-key", "exact values")
        #expect(decide(engine, "GET", "/v1/reports/2026").credentialProvider == "reader-key")
        #expect(decide(engine, "POST", "/v1/reports/2026").credentialProvider == "default-key")
        #expect(decide(engine, "GET", "/v1/reports/2026", headers: ["x-account": "eu"]).credentialProvider == "eu-key")
        let strict = try await self.engine(policies: [("routed", ["credentialRoutes": routes])])
        let refused = decide(strict, "POST", "/")
        #expect(refused.refusal?.code == "no-credential-route")
        #expect(refused.policy == nil)
    }

    @Test("what each policy examines of a request, for the edge's credential keys")
    func decisionInputs() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        let spec = try await ResourceBench.admit(
            AccessPolicySpec.self, "p",
            [
                "clientWorkload": "a", "serverWorkload": "b", "trustProvider": "t", "credentialProvider": "k",
                "credentialRoutes": [
                    ["when": ["header": ["name": "X-Account", "values": ["eu"]]], "credentialProvider": "e"]
                ],
                "conditions": ["sourceNetworks": ["10.0.0.0/8"]],
            ], context: context
        ).spec
        let inputs = spec.decisionInputs
        #expect(inputs.headers == ["x-account"])
        #expect(inputs.source)
        #expect(!inputs.method)
        #expect(inputs.pathPrefixes.isEmpty)
    }

    @Test("admission refuses what would be ambiguous or leak: bad blocks, host bits, secret headers, odd prefixes")
    func admission() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        let base: [String: JSONValue] = [
            "clientWorkload": "a", "serverWorkload": "b", "trustProvider": "t", "credentialProvider": "k",
        ]
        func route(_ when: JSONValue) -> [String: JSONValue] {
            ["credentialRoutes": [["when": when, "credentialProvider": "k2"]]]
        }
        let cases: [([String: JSONValue], String, String)] = [
            (["conditions": ["sourceNetworks": ["10.1.2.3/8"]]], "spec.conditions.sourceNetworks[0]", "10.0.0.0/8"),
            (["conditions": ["sourceNetworks": ["10.0.0.0/33"]]], "spec.conditions.sourceNetworks[0]", "prefix length"),
            (["conditions": ["sourceNetworks": ["example.com"]]], "spec.conditions.sourceNetworks[0]", "not an IP"),
            (
                route(["header": ["name": "Authorization", "values": ["x"]]]),
                "spec.credentialRoutes[0].when.header.name", "never leave"
            ),
            (
                route(["header": ["name": "Cookie", "values": ["x"]]]), "spec.credentialRoutes[0].when.header.name",
                "never leave"
            ),
            (route(["pathPrefix": "/a/../b"]), "spec.credentialRoutes[0].when.pathPrefix", "canonical"),
            (route([:]), "spec.credentialRoutes[0].when", "at least one"),
            (["conditions": ["geography": [:]]], "spec.conditions.geography", "countries or subdivisions"),
            (
                ["conditions": ["geography": ["countries": ["de"]]]], "spec.conditions.geography.countries[0]",
                "ISO 3166-1"
            ),
        ]
        for (extra, field, words) in cases {
            do {
                _ = try await ResourceBench.admit(
                    AccessPolicySpec.self, "p", .object(base.merging(extra) { $1 }), context: context)
                Issue.record("admitted: \(extra)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == field, "\(extra): \(problem.detail)")
                #expect(problem.detail.contains(words), "\(problem.detail)")
            }
        }
        await #expect(throws: ProblemDetails.self) {
            try await ResourceBench.admit(
                ServerWorkloadSpec.self, "s", ["host": "a.internal", "port": 443, "pathPrefix": "/v1/%2e%2e"],
                context: context)
        }
    }

    @Test("network blocks: parsing, masking, containment")
    func networkBlocks() throws {
        let block = try NetworkBlock(parsing: "0.0.0.0/0")
        #expect(block.contains(IPAddress("255.255.255.255")!))
        #expect(!block.contains(IPAddress("::1")!), "IPv4 blocks hold no IPv6 addresses")
        #expect(try NetworkBlock(parsing: "192.168.1.7").description == "192.168.1.7/32")
        #expect(try NetworkBlock(parsing: "fe80::/10").contains(IPAddress("febf::1")!))
        #expect(!(try NetworkBlock(parsing: "fe80::/10").contains(IPAddress("fec0::1")!)))
        #expect(throws: NetworkBlock.Problem.hostBitsSet("10.0.0.0/8")) { try NetworkBlock(parsing: "10.0.0.1/8") }
        #expect(IPAddress("1.2.3.4%eth0") == nil)
        #expect(IPAddress("::ffff:1.2.3.4")?.bytes == [1, 2, 3, 4])
    }
}
