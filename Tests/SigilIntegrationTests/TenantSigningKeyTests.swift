import Foundation
import Hummingbird
import HummingbirdTesting
import SigilCrypto
import SigilEvents
import SigilService
import SigilTestSupport
import Testing

@testable import CredentialIssuance

/// The tenants' JWT signing keys and the JWKS that publishes them, checked by a verifier that is not Sigil's: PyJWT
/// (PyPI) verifies tokens signed with the current keys against the served JWKS.
@Suite("JWT signing keys: derived alike in every replica, published as a JWKS that PyJWT verifies against")
struct TenantSigningKeyTests {
    func signing(_ dataKey: TenantDataKey, days: Double = 30) -> TenantSigningKeys {
        let keyring = TenantKeyring(kek: try! KeyEncryptionKey(keyID: "kek", material: Array(repeating: 1, count: 32)))
        keyring.remember(dataKey)
        return TenantSigningKeys(keyring: keyring, period: days * 86_400)
    }

    @Test("two replicas with the same data key hold the same keys; a period later the next key signs; none without")
    func derivation() throws {
        let dataKey = TenantDataKey(tenant: "acme")
        let (one, two) = (signing(dataKey), signing(dataKey))
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        for algorithm in [TenantSigningKeys.Algorithm.es256, .eddsa] {
            let a = try #require(one.current(tenant: "acme", algorithm: algorithm, at: now))
            let b = try #require(two.current(tenant: "acme", algorithm: algorithm, at: now))
            #expect(a.kid == b.kid && a.jwk == b.jwk)
            let later = try #require(one.current(tenant: "acme", algorithm: algorithm, at: now + 30 * 86_400))
            #expect(later.kid != a.kid && later.jwk["x"] != a.jwk["x"], "rotated after a period")
            // Published: the previous, current and next period's, so the next key is known before it signs.
            let published = one.published(tenant: "acme", at: now).map(\.kid)
            #expect(published.contains(a.kid) && published.contains(later.kid))
        }
        #expect(one.published(tenant: "acme", at: now).count == 6)
        #expect(one.current(tenant: "acme", algorithm: .rs256) == nil, "RS256 keys are generated, not derived")
        #expect(one.current(tenant: "globex", algorithm: .es256) == nil, "no data key, no signing key")
        #expect(
            signing(TenantDataKey(tenant: "acme")).current(tenant: "acme", algorithm: .es256)?.jwk
                != one.current(tenant: "acme", algorithm: .es256)?.jwk, "another data key, other keys")
    }

    @Test(
        "the JWKS and discovery document are served per tenant; PyJWT verifies ES256, RS256 and EdDSA tokens against them"
    )
    func verifiedByPyJWT() async throws {
        let dataKey = TenantDataKey(tenant: "acme")
        let signing = signing(dataKey)
        // RS256: a generated key, as sigil-issue makes one on first use (see TenantKeyLifecycleTests for the events).
        let (rsa, _) = try TenantStoredSigningKeys.generate(
            tenant: "acme", period: signing.periodNumber(at: Date()), dataKey: dataKey)
        signing.stored.remember(tenant: "acme", rsa)
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        JWKSController(
            signing: signing, authority: TenantCertificateAuthority(signing: signing),
            publicURL: "https://sigil.example"
        ).add(to: router)
        let app = Application(router: router)
        try await app.test(.router) { client in
            let discovery = try await client.execute(
                uri: "/tenants/acme/.well-known/openid-configuration", method: .get)
            #expect(discovery.status == .ok)
            let document = try JSONSerialization.jsonObject(with: Data(buffer: discovery.body)) as? [String: Any]
            #expect(document?["issuer"] as? String == "https://sigil.example/tenants/acme")
            #expect(document?["jwks_uri"] as? String == "https://sigil.example/tenants/acme/.well-known/jwks.json")
            for path in ["/tenants/globex/.well-known/jwks.json", "/tenants/..%2Fetc/.well-known/jwks.json"] {
                #expect(try await client.execute(uri: path, method: .get).status == .notFound, "\(path)")
            }
            let jwks = try await client.execute(uri: "/tenants/acme/.well-known/jwks.json", method: .get)
            #expect(jwks.status == .ok && jwks.headers[.cacheControl] == "public, max-age=300")
            let body = String(buffer: jwks.body)
            #expect(!body.contains("\"d\""), "no private member")

            var tokens: [String] = []
            let now = Int(Date().timeIntervalSince1970)
            for algorithm in TenantSigningKeys.Algorithm.allCases {
                let key = try #require(signing.current(tenant: "acme", algorithm: algorithm))
                tokens.append(
                    try await key.sign([
                        "iss": "https://sigil.example/tenants/acme", "sub": "billing", "aud": "ledger",
                        "iat": .number(Double(now)), "exp": .number(Double(now + 300)),
                    ]))
            }
            let verified = try PyJWT.verify(jwks: body, tokens: tokens, audience: "ledger")
            #expect(verified.map { $0["sub"] as? String } == ["billing", "billing", "billing"], "\(verified)")
            #expect(body.contains(#""kty":"RSA""#) && body.contains(rsa.kid))
        }
    }

    @Test(
        "a jwt provider's token: sub, literal and attested claims, the SVID profile, the shorter lifetime; PyJWT verifies"
    )
    func mintedForAGrant() async throws {
        let signing = signing(TenantDataKey(tenant: "acme"))
        let spec = try JSONDecoder().decode(
            JWTCredential.self,
            from: Data(
                #"""
                {"algorithm": "EdDSA", "audience": ["ledger", "ledger-eu"], "ttlSeconds": 120, "profile": "jwt-svid",
                 "trustDomain": "acme.test", "claims": {"team": {"value": "payments"}, "repo": {"claim": "repository"}},
                 "inject": "bearer"}
                """#.utf8))
        let granted = AccessGranted(
            requestID: "req-1", target: AccessTarget(scheme: "https", host: "ledger.internal", port: 443),
            reply: ReplyAddress(edgeID: "e", partition: 0, publicKey: []), clientWorkload: "deployer",
            serverWorkload: "ledger", accessPolicy: "p", credentialProvider: "ledger-jwt", ttlSeconds: 300,
            deadline: Deadline(Date().addingTimeInterval(2)), claims: ["repository": "octo-org/app"])
        let issuer = "https://sigil.example/tenants/acme"
        let claims = try spec.claims(for: granted, issuer: issuer, at: Date())
        let token = try await #require(signing.current(tenant: "acme", algorithm: .eddsa)).sign(claims)
        let jwks = try JSONSerialization.data(withJSONObject: ["keys": signing.published(tenant: "acme").map(\.jwk)])
        let verified = try #require(
            try PyJWT.verify(jwks: String(decoding: jwks, as: UTF8.self), tokens: [token], audience: "ledger-eu").first)
        #expect(verified["sub"] as? String == "spiffe://acme.test/deployer")
        #expect(verified["team"] as? String == "payments" && verified["repo"] as? String == "octo-org/app")
        #expect(verified["iss"] as? String == issuer && verified["jti"] as? String == "req-1")
        let lifetime = (verified["exp"] as? Int ?? 0) - (verified["iat"] as? Int ?? 0)
        #expect(lifetime == 120, "the provider's ttl, shorter than the grant's")

        var missing = granted
        missing.claims = [:]
        #expect(throws: RefusalReason.self) { try spec.claims(for: missing, issuer: issuer, at: Date()) }
    }
}
