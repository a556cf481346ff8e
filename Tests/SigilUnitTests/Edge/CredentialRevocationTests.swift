import Foundation
import SigilEvents
import SigilPolicy
import Testing

@testable import EdgeProxy

@Suite("Continuous evaluation at the edge: configuration changes revoke the credentials they may withdraw")
struct CredentialRevocationTests {
    func held(policy: String?, server: String?) -> HeldCredential {
        HeldCredential(
            requestID: UUID().uuidString, headerName: "X-API-Key", headerValue: "k", obtainedAt: Date(),
            expiresAt: Date().addingTimeInterval(300), accessPolicy: policy, serverWorkload: server)
    }

    func key(_ host: String) -> CredentialKey {
        CredentialKey(serverWorkload: host, evidenceDigest: "d")
    }

    @Test("a policy change drops what it granted, a server workload change what is for it, an identity change all")
    func revocations() {
        let cache = CredentialCache()
        cache.store(held(policy: "billing-ledger", server: "ledger"), for: key("ledger"))
        cache.store(held(policy: "billing-reports", server: "reports"), for: key("reports"))
        cache.store(held(policy: "billing-audit", server: "audit"), for: key("audit"))
        #expect(cache.revoke(.accessPolicy("billing-ledger")) == 1)
        #expect(cache.usable(key("ledger")) == nil && cache.usable(key("reports")) != nil)
        #expect(cache.revoke(.serverWorkload("reports")) == 1)
        #expect(cache.revoke(.accessPolicy("unrelated")) == 0)
        #expect(cache.count == 1)
        #expect(cache.revoke(.identities) == 1)
        #expect(cache.count == 0)
        // A credential from an issuer that did not say under which policy: any policy change may withdraw it.
        cache.store(held(policy: nil, server: nil), for: key("legacy"))
        #expect(cache.revoke(.accessPolicy("anything")) == 1)
    }

    @Test("a revoked lease drops the credential of that lease only")
    func leaseRevoked() {
        let cache = CredentialCache()
        for (name, lease) in [("orders", "lease-1"), ("reports", "lease-2"), ("api", nil)] {
            cache.store(
                HeldCredential(
                    requestID: UUID().uuidString, injection: .postgres(user: "sigil_x", password: "p"),
                    obtainedAt: Date(), expiresAt: Date().addingTimeInterval(300), leaseID: lease),
                for: key(name))
        }
        #expect(cache.revoke(.lease("lease-1")) == 1)
        #expect(cache.usable(key("orders")) == nil && cache.usable(key("reports")) != nil)
        #expect(cache.revoke(.lease("lease-unknown")) == 0)
        #expect(cache.count == 2)
    }

    @Test("a posture report names the policies whose conditions on its feed it falls short of")
    func postureFailures() throws {
        let inputs = DecisionInputIndex()
        func policy(_ name: String, _ posture: String) throws {
            let json = """
                {"clientWorkload": "c", "serverWorkload": "s", "trustProvider": "t", "credentialProvider": "k",
                 "ttlSeconds": 300, "conditions": {"posture": [\(posture)]}}
                """
            inputs.apply(policy: name, spec: try JSONDecoder().decode(AccessPolicySpec.self, from: Data(json.utf8)))
        }
        try policy(
            "strict", #"{"feed": "falcon", "subjectClaim": "hostname", "minimumScore": 80, "maxLastSeenSeconds": 600}"#)
        try policy(
            "lenient", #"{"feed": "falcon", "subjectClaim": "hostname", "minimumScore": 50, "maxLastSeenSeconds": 600}"#
        )
        try policy(
            "clusters", #"{"feed": "wiz", "subject": "prod", "statuses": ["connected"], "maxLastSeenSeconds": 600}"#)
        #expect(inputs.policiesFailing(feed: "falcon", score: 90, status: "normal").isEmpty)
        #expect(inputs.policiesFailing(feed: "falcon", score: 70, status: "normal") == ["strict"])
        #expect(inputs.policiesFailing(feed: "falcon", score: nil, status: nil) == ["lenient", "strict"])
        #expect(inputs.policiesFailing(feed: "wiz", score: 100, status: "disconnected") == ["clusters"])
        inputs.apply(policy: "strict", spec: nil)
        #expect(inputs.policiesFailing(feed: "falcon", score: 70, status: "normal").isEmpty, "a removed policy")
    }

    @Test("a credential requested before a revocation serves its request but is not kept")
    func inFlight() {
        let cache = CredentialCache()
        let before = cache.revocations
        cache.revoke(.accessPolicy("billing-ledger"))
        cache.store(held(policy: "billing-ledger", server: "ledger"), for: key("ledger"), unlessRevokedSince: before)
        #expect(cache.usable(key("ledger")) == nil)
        cache.store(
            held(policy: "billing-ledger", server: "ledger"), for: key("ledger"), unlessRevokedSince: cache.revocations)
        #expect(cache.usable(key("ledger")) != nil)
    }
}
