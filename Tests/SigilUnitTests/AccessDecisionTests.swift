import Foundation
import Logging
import SigilEvents
import SigilKafka
import Testing

@testable import PolicyDecision
@testable import SigilPolicy
@testable import SigilService

@Suite("Policy decisions: exact matches only, every denial with its reason")
struct AccessDecisionTests {
    func decider() async throws -> (AccessDecider, ServiceContext) {
        let context = try await ResourceBench.context(.policyDecision)
        context.resources.index(ServerWorkloadSpec.self).define(
            try await ResourceBench.admit(
                ServerWorkloadSpec.self, "ledger", ["scheme": "https", "host": "Ledger.Internal", "port": 443],
                context: context))
        context.resources.index(AccessPolicySpec.self).define(
            try await ResourceBench.admit(
                AccessPolicySpec.self, "billing-ledger",
                [
                    "clientWorkload": "billing", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "ledger-key",
                ], context: context))
        return (AccessDecider(context: context), context)
    }

    func attested(
        _ client: String, provider: String = "cluster", providers: [String]? = nil, host: String = "ledger.internal",
        port: Int = 443
    ) -> IdentityAttested {
        IdentityAttested(
            requestID: "r", target: AccessTarget(scheme: "https", host: host, port: port),
            reply: ReplyAddress(edgeID: "e", partition: 0, publicKey: []), clientWorkload: client,
            trustProviders: providers ?? [provider], claims: [:], deadline: Deadline(Date().addingTimeInterval(2))
        )
    }

    @Test("the matching policy grants, with its credential provider and default ttl")
    func granted() async throws {
        let (decider, _) = try await decider()
        let decision = decider.decide(attested("billing"), tenant: "acme")
        #expect(decision.policy?.name == "billing-ledger")
        #expect(decision.policy?.spec.credentialProvider == "ledger-key")
        #expect(decision.policy?.spec.ttlSeconds == 300)
        #expect(decision.refusal == nil)
    }

    @Test("anything but an exact match is denied with a reason")
    func denied() async throws {
        let (decider, _) = try await decider()
        let cases: [(IdentityAttested, String, String)] = [
            (attested("reporting"), "acme", "no-matching-policy"),
            (attested("billing", provider: "other-cluster"), "acme", "no-matching-policy"),
            (attested("billing", port: 8443), "acme", "unknown-server-workload"),
            (attested("billing", host: "ledger.internal.evil"), "acme", "unknown-server-workload"),
            (attested("billing"), "another-tenant", "unknown-server-workload"),
        ]
        for (request, tenant, code) in cases {
            let decision = decider.decide(request, tenant: tenant)
            #expect(decision.policy == nil)
            #expect(decision.refusal?.code == code, "\(request.clientWorkload) \(request.target) \(tenant)")
        }
    }

    @Test("trustProviders all: every one must have verified evidence; any: one is enough; the denial says which")
    func trustProviderComposition() async throws {
        let (decider, context) = try await decider()
        let index = context.resources.index(AccessPolicySpec.self)
        for (name, client, requirement) in [
            ("both-ledger", "deployer", ["all": ["cluster", "github"]] as JSONValue),
            ("either-ledger", "reporter", ["any": ["cluster", "github"]] as JSONValue),
        ] {
            index.define(
                try await ResourceBench.admit(
                    AccessPolicySpec.self, name,
                    [
                        "clientWorkload": .string(client), "serverWorkload": "ledger", "trustProviders": requirement,
                        "credentialProvider": "ledger-key",
                    ], context: context))
        }
        #expect(
            decider.decide(attested("deployer", providers: ["cluster", "github"]), tenant: "acme").policy?.name
                == "both-ledger")
        let partial = decider.decide(attested("deployer", providers: ["cluster"]), tenant: "acme")
        #expect(partial.policy == nil)
        #expect(partial.refusal?.code == "no-matching-policy")
        #expect(
            partial.refusal?.detail
                == "both-ledger (allow) does not apply: trustProviders: expected all of cluster, github, was cluster")
        #expect(
            decider.decide(attested("reporter", providers: ["github"]), tenant: "acme").policy?.name == "either-ledger")
        #expect(decider.decide(attested("reporter", providers: ["gitlab"]), tenant: "acme").policy == nil)
    }

    @Test("a policy gives one trust provider or trustProviders with exactly one of all and any")
    func trustProviderForms() async throws {
        let context = try await ResourceBench.context(.policyDecision)
        let base: [String: JSONValue] = ["clientWorkload": "a", "serverWorkload": "b", "credentialProvider": "c"]
        for extra in [
            [:], ["trustProvider": "x", "trustProviders": ["all": ["y"]]],
            ["trustProviders": ["all": ["x"], "any": ["y"]]], ["trustProviders": [:]],
        ] as [[String: JSONValue]] {
            await #expect(throws: ProblemDetails.self, "\(extra)") {
                try await ResourceBench.admit(
                    AccessPolicySpec.self, "p", .object(base.merging(extra) { $1 }), context: context)
            }
        }
    }
}
