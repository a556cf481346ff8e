import Foundation
import Logging
import SigilEvents
import SigilKafka
import Testing

@testable import PolicyDecision
@testable import SigilService

@Suite("Policy decisions: exact matches only, every denial with its reason")
struct AccessDecisionTests {
    func decider() async throws -> (AccessDecider, ResourceCache) {
        let configuration = try await ServiceConfiguration.load(service: .policyDecision, environment: [:])
        let client = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "test")
        let logger = Logger(label: "test")
        let resources = ResourceCache()
        let context = ServiceContext(
            configuration: configuration, source: EventSource(service: "policy", instance: "test"),
            producer: try KafkaProducer(configuration: .init(client: client), logger: logger),
            admin: try KafkaAdmin(configuration: client, logger: logger), postgres: nil, tokens: AdminTokenStore(),
            readiness: Readiness(checks: []), resources: resources, logger: logger
        )
        resources.set(
            .serverWorkload, tenant: "acme", name: "ledger",
            spec: try ServerWorkloadSpec.validate(
                .object([
                    "scheme": .string("https"), "host": .string("Ledger.Internal"), "port": .number(443),
                ])))
        resources.set(
            .accessPolicy, tenant: "acme", name: "billing-ledger",
            spec: try AccessPolicy.validate(
                .object([
                    "clientWorkload": .string("billing"), "serverWorkload": .string("ledger"),
                    "trustProvider": .string("cluster"),
                    "credentialProvider": .string("ledger-key"),
                ])))
        return (AccessDecider(context: context), resources)
    }

    func attested(
        _ client: String, provider: String = "cluster", host: String = "ledger.internal", port: Int = 443
    ) -> IdentityAttested {
        IdentityAttested(
            requestID: "r", target: AccessTarget(scheme: "https", host: host, port: port),
            reply: ReplyAddress(edgeID: "e", partition: 0, publicKey: []), clientWorkload: client,
            trustProvider: provider, claims: [:]
        )
    }

    @Test("the matching policy grants, with its credential provider and default ttl")
    func granted() async throws {
        let (decider, _) = try await decider()
        let decision = decider.decide(attested("billing"), tenant: "acme")
        #expect(decision.policy?.name == "billing-ledger")
        #expect(decision.policy?.credentialProvider == "ledger-key")
        #expect(decision.policy?.ttlSeconds == 300)
        #expect(decision.reason == nil)
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
            #expect(decision.reason?.code == code, "\(request.clientWorkload) \(request.target) \(tenant)")
        }
    }
}
