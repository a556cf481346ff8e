import Testing

@testable import SigilService

@Suite("Admin tokens: kept as digests, compared in constant time")
struct AdminTokenStoreTests {
    let ops = AdminPrincipal(tenant: "acme", role: .admin, tokenName: "ops")

    @Test("a token is known by its digest only; a near miss, a prefix or a removed token is unknown")
    func lookup() {
        let store = AdminTokenStore()
        let token = "adm_0123456789abcdefghijklmnop"
        store.add(token: token, principal: ops)
        #expect(store.principal(for: token) == ops)
        #expect(store.principal(for: token + "x") == nil)
        #expect(store.principal(for: String(token.dropLast())) == nil)
        #expect(store.principal(for: "") == nil)
        let auditor = AdminPrincipal(tenant: "acme", role: .auditor, tokenName: "siem")
        store.add(digest: AdminTokenStore.digest("aud_0123456789abcdefghijklmnop").uppercased(), principal: auditor)
        #expect(store.principal(for: "aud_0123456789abcdefghijklmnop") == auditor)
        store.remove(digest: AdminTokenStore.digest(token))
        #expect(store.principal(for: token) == nil)
        store.add(digest: "not-hex", principal: ops)  // ignored
        #expect(store.principal(for: "not-hex") == nil)
    }

    @Test("byte strings compare equal only when equal, whatever their length")
    func constantTimeEqual() {
        #expect(AdminTokenStore.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!AdminTokenStore.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!AdminTokenStore.constantTimeEqual([0, 2, 3], [1, 2, 3]))
        #expect(!AdminTokenStore.constantTimeEqual([1, 2], [1, 2, 3]))
    }
}
