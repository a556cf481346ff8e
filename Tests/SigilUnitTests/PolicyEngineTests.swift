import Foundation
import SigilEvents
import SigilService
import Testing

@testable import PolicyDecision
@testable import SigilPolicy

@Suite("Policy engine: deny overrides allow, time windows at their edges, explanations")
struct PolicyEngineTests {
    let target = AccessTarget(scheme: "https", host: "ledger.internal", port: 443)

    /// An engine over `policies` (name → spec) for client `billing` and server `ledger`.
    func engine(_ policies: [(String, JSONValue)]) async throws -> PolicyEngine {
        let context = try await ResourceBench.context(.policyDecision)
        context.resources.index(ServerWorkloadSpec.self).define(
            try await ResourceBench.admit(
                ServerWorkloadSpec.self, "ledger", ["host": "ledger.internal", "port": 443], context: context))
        for (name, spec) in policies {
            guard case .object(var fields) = spec else { continue }
            fields["clientWorkload"] = fields["clientWorkload"] ?? "billing"
            fields["serverWorkload"] = "ledger"
            context.resources.index(AccessPolicySpec.self).define(
                try await ResourceBench.admit(AccessPolicySpec.self, name, .object(fields), context: context))
        }
        return PolicyEngine(context.resources)
    }

    static let allow: JSONValue = ["trustProvider": "cluster", "credentialProvider": "ledger-key"]
    static let weekdays: JSONValue = [
        "trustProvider": "cluster", "credentialProvider": "ledger-key",
        "conditions": [
            "timeWindows": [
                [
                    "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00",
                    "timeZone": "Europe/Berlin",
                ]
            ]
        ],
    ]

    static func utc(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func decide(_ engine: PolicyEngine, at moment: String, providers: [String] = ["cluster"]) -> PolicyEngine.Decision {
        engine.decide(
            clientWorkload: "billing", target: target, trustProviders: providers, tenant: "acme", at: Self.utc(moment))
    }

    @Test("a deny that applies overrides every allow; a deny whose window is closed does not; allows by name")
    func precedence() async throws {
        let engine = try await engine([
            ("b-allow", Self.allow), ("a-allow", Self.allow),
            (
                "weekend-deny",
                [
                    "effect": "deny",
                    "conditions": ["timeWindows": [["days": ["sat", "sun"], "from": "00:00", "to": "24:00"]]],
                ]
            ),
        ])
        let weekday = decide(engine, at: "2026-11-25T10:00:00Z")  // a Wednesday
        #expect(weekday.policy?.name == "a-allow")
        #expect(weekday.explanation?.policies.map(\.policy) == ["weekend-deny", "a-allow", "b-allow"])
        #expect(weekday.explanation?.decidedBy == "a-allow")
        let weekend = decide(engine, at: "2026-11-28T10:00:00Z")  // a Saturday
        #expect(weekend.policy == nil)
        #expect(weekend.refusal?.code == "denied-by-policy")
        #expect(weekend.refusal?.detail == "access policy weekend-deny denies billing reaching ledger")
        #expect(weekend.explanation?.decidedBy == "weekend-deny")
    }

    @Test("time windows: from included, to excluded, over midnight, and across a daylight-saving change")
    func windows() async throws {
        let office = try await engine([("office", Self.weekdays)])
        let cases: [(String, Bool, String)] = [
            ("2026-11-25T08:00:00Z", true, "09:00 Berlin (CET, UTC+1), from is included"),
            ("2026-11-25T07:59:59Z", false, "08:59:59 Berlin"),
            ("2026-11-25T16:00:00Z", false, "17:00 Berlin, to is excluded"),
            ("2026-11-25T15:59:00Z", true, "16:59 Berlin"),
            ("2026-11-28T10:00:00Z", false, "a Saturday"),
            ("2026-03-27T08:30:00Z", true, "Friday before the change: 09:30 CET"),
            ("2026-03-30T07:30:00Z", true, "Monday after the change: 09:30 CEST (UTC+2)"),
            ("2026-03-30T06:30:00Z", false, "Monday after the change: 08:30 CEST, though 07:30 would be CET's 08:30"),
            ("2026-10-26T08:00:00Z", true, "Monday after the autumn change: 09:00 CET again"),
        ]
        for (moment, granted, why) in cases {
            #expect((decide(office, at: moment).policy != nil) == granted, "\(moment): \(why)")
        }
        let night = try await engine([
            (
                "night",
                [
                    "trustProvider": "cluster", "credentialProvider": "k",
                    "conditions": ["timeWindows": [["from": "22:00", "to": "06:00"]]],
                ]
            )
        ])
        #expect(decide(night, at: "2026-11-25T23:30:00Z").policy != nil)
        #expect(decide(night, at: "2026-11-25T05:59:00Z").policy != nil)
        #expect(decide(night, at: "2026-11-25T06:00:00Z").policy == nil)
        #expect(decide(night, at: "2026-11-25T12:00:00Z").policy == nil)
    }

    @Test("a refusal explains every policy weighed: each check with what was expected and what the request had")
    func explanations() async throws {
        let engine = try await engine([
            ("office", Self.weekdays),
            ("mfa", ["trustProviders": ["all": ["cluster", "spiffe"]], "credentialProvider": "ledger-key"]),
        ])
        let refused = decide(engine, at: "2026-11-28T10:00:00Z")
        #expect(refused.refusal?.code == "no-matching-policy")
        let explanation = try #require(refused.explanation)
        #expect(explanation.decidedBy == nil)
        let office = try #require(explanation.policies.first { $0.policy == "office" })
        #expect(!office.applies)
        #expect(
            office.checks == [
                ConditionCheck(condition: "trustProviders", satisfied: true, expected: "cluster", actual: "cluster"),
                ConditionCheck(
                    condition: "timeWindows", satisfied: false,
                    expected: "mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin", actual: "sat 11:00 Europe/Berlin"),
            ])
        let mfa = try #require(explanation.policies.first { $0.policy == "mfa" })
        #expect(mfa.checks.first?.expected == "all of cluster, spiffe")
        #expect(
            refused.refusal?.detail.contains(
                "timeWindows: expected mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin, was sat 11:00 Europe/Berlin")
                == true)
        // No policy for the pair at all, and no server workload at the target.
        #expect(
            engine.decide(
                clientWorkload: "reporting", target: target, trustProviders: ["cluster"], tenant: "acme", at: Date()
            ).refusal?.detail == "no access policy lets reporting reach ledger")
        #expect(
            engine.decide(
                clientWorkload: "billing", target: AccessTarget(scheme: "https", host: "other", port: 443),
                trustProviders: [], tenant: "acme", at: Date()
            ).refusal?.code == "unknown-server-workload")
    }

    @Test("the engine sees a changed policy at the next decision")
    func recompiles() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        context.resources.index(ServerWorkloadSpec.self).define(
            try await ResourceBench.admit(
                ServerWorkloadSpec.self, "ledger", ["host": "ledger.internal", "port": 443], context: context))
        let engine = PolicyEngine(context.resources)
        let moment = Self.utc("2026-11-25T10:00:00Z")
        func granted() -> Bool {
            engine.decide(
                clientWorkload: "billing", target: target, trustProviders: ["cluster"], tenant: "acme", at: moment
            )
            .policy != nil
        }
        #expect(!granted())
        var spec = Self.allow
        if case .object(var fields) = spec {
            fields["clientWorkload"] = "billing"
            fields["serverWorkload"] = "ledger"
            spec = .object(fields)
        }
        context.resources.index(AccessPolicySpec.self).define(
            try await ResourceBench.admit(AccessPolicySpec.self, "p", spec, context: context))
        #expect(granted())
        context.resources.index(AccessPolicySpec.self).replace(with: [])
        #expect(!granted())
    }

    @Test(
        "admission: an allow needs a credential and trust providers, a deny has no credential, windows must make sense")
    func admission() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        let base: [String: JSONValue] = ["clientWorkload": "a", "serverWorkload": "b"]
        let cases: [([String: JSONValue], String)] = [
            (["trustProvider": "x"], "spec.credentialProvider"),
            (["effect": "deny", "credentialProvider": "k"], "spec.credentialProvider"),
            (
                [
                    "effect": "deny",
                    "conditions": ["timeWindows": [["from": "09:00", "to": "17:00", "timeZone": "Mars/Olympus"]]],
                ], "spec.conditions.timeWindows[0].timeZone"
            ),
            (
                ["effect": "deny", "conditions": ["timeWindows": [["from": "09:00", "to": "09:00"]]]],
                "spec.conditions.timeWindows[0].to"
            ),
            (
                ["effect": "deny", "conditions": ["timeWindows": [["from": "9:00", "to": "17:00"]]]],
                "spec.conditions.timeWindows[0].from"
            ),
            (
                ["effect": "deny", "conditions": ["timeWindows": [["from": "09:00", "to": "25:00"]]]],
                "spec.conditions.timeWindows[0].to"
            ),
            (
                [
                    "effect": "deny",
                    "conditions": ["timeWindows": [["days": ["funday"], "from": "09:00", "to": "10:00"]]],
                ], "spec.conditions.timeWindows[0].days[0]"
            ),
        ]
        for (extra, field) in cases {
            do {
                _ = try await ResourceBench.admit(
                    AccessPolicySpec.self, "p", .object(base.merging(extra) { $1 }), context: context)
                Issue.record("admitted: \(extra)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == field, "\(extra): \(problem.detail)")
            }
        }
    }

    @Test("a credential granted in a time window lives no longer than the window")
    func ttlEndsWithTheWindow() async throws {
        let office = try await engine([("office", Self.weekdays)])
        #expect(decide(office, at: "2026-11-25T10:00:00Z").ttlSeconds == 300)  // the policy's ttlSeconds
        #expect(decide(office, at: "2026-11-25T15:59:30Z").ttlSeconds == 30)  // 16:59:30 Berlin: 30 s left
        let always = try await engine([("always", Self.allow)])
        #expect(decide(always, at: "2026-11-25T15:59:30Z").ttlSeconds == 300)
    }

    @Test("a wildcard server workload covers the hosts under it; an exact one wins; admission takes only `*.` first")
    func wildcardServers() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        let servers = context.resources.index(ServerWorkloadSpec.self)
        for (name, host) in [("payments", "*.Payments.internal"), ("ledger", "ledger.payments.internal")] {
            servers.define(
                try await ResourceBench.admit(
                    ServerWorkloadSpec.self, name, ["host": .string(host), "port": 443], context: context))
        }
        for (name, server) in [("to-payments", "payments"), ("to-ledger", "ledger")] {
            context.resources.index(AccessPolicySpec.self).define(
                try await ResourceBench.admit(
                    AccessPolicySpec.self, name,
                    [
                        "clientWorkload": "billing", "serverWorkload": .string(server), "trustProvider": "cluster",
                        "credentialProvider": "k",
                    ], context: context))
        }
        let engine = PolicyEngine(context.resources)
        func decide(_ host: String) -> PolicyEngine.Decision {
            engine.decide(
                clientWorkload: "billing", target: AccessTarget(scheme: "https", host: host, port: 443),
                trustProviders: ["cluster"], tenant: "acme", at: Date())
        }
        #expect(decide("reports.payments.internal").policy?.name == "to-payments")
        #expect(decide("REPORTS.payments.internal").serverWorkload == "payments")
        #expect(decide("ledger.payments.internal").policy?.name == "to-ledger")
        #expect(decide("payments.internal").refusal?.code == "unknown-server-workload")
        for host in ["pay*.internal", "*", "*.", "a.*.internal"] {
            await #expect(throws: ProblemDetails.self, "\(host)") {
                try await ResourceBench.admit(
                    ServerWorkloadSpec.self, "bad", ["host": .string(host), "port": 443], context: context)
            }
        }
    }
}
