import Foundation
import SigilEvents
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
