import Crypto
import Foundation
import JWTKit
import SigilClient
import SigilEvents
import SigilService
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

@Suite("Service-account token verification: accepted tokens and hostile ones, each with its reason")
struct ServiceAccountTokenTests {
    let identity = DemoIdentity()
    let verifier = JWTVerifier()

    func provider(
        algorithms: [String] = ["ES256"], audiences: [String] = ["sigil"], identity: DemoIdentity? = nil,
        extra: [String: Any] = [:], jwks: [String: Any]?? = .none
    ) async throws -> TrustProvider {
        var document: [String: Any] = [
            "type": "kubernetes-service-account", "issuer": DemoIdentity.issuer, "audiences": audiences,
            "allowedAlgorithms": algorithms,
        ]
        // Inline keys unless the caller passes nil (another key source in `extra`).
        switch jwks {
        case .none: document["jwks"] = try (identity ?? self.identity).jwks()
        case .some(let set?): document["jwks"] = set
        case .some(nil): break
        }
        let spec = try JSONDecoder().decode(
            JSONValue.self, from: JSONSerialization.data(withJSONObject: document.merging(extra) { $1 }))
        let context = try await ResourceBench.context(.identityAttestation)
        return TrustProvider(try await ResourceBench.admit(TrustProviderSpec.self, "cluster", spec, context: context))
    }

    /// A token with chosen header and claims, signed by `identity`'s key unless the algorithm says otherwise.
    func token(
        header: [String: Any] = ["alg": "ES256", "kid": DemoIdentity.keyID, "typ": "JWT"], claims: [String: Any],
        signWith other: DemoIdentity? = nil
    ) async throws -> String {
        func segment(_ object: [String: Any]) throws -> String {
            try JSONSerialization.data(withJSONObject: object).base64URL
        }
        let signingInput = "\(try segment(header)).\(try segment(claims))"
        // The signature is made with jwt-kit over exactly this header and payload, whatever they claim.
        let keys = await JWTKeyCollection().add(
            ecdsa: (other ?? identity).privateKeyForTests, kid: JWKIdentifier(string: DemoIdentity.keyID))
        let signer = try await keys.getKey(for: JWKIdentifier(string: DemoIdentity.keyID))
        let signature = try signer.sign(Array(signingInput.utf8))
        return "\(signingInput).\(Data(signature).base64URL)"
    }

    func claims(
        sub: String = "system:serviceaccount:demo:billing", aud: Any = ["sigil"], exp: TimeInterval = 600,
        nbf: TimeInterval? = nil, drop: String? = nil
    ) -> [String: Any] {
        let now = Date().timeIntervalSince1970
        var claims: [String: Any] = [
            "iss": DemoIdentity.issuer, "sub": sub, "aud": aud, "exp": now + exp, "iat": now, "nbf": now + (nbf ?? 0),
        ]
        if let drop { claims.removeValue(forKey: drop) }
        return claims
    }

    @Test("a token from the demo issuer verifies to its namespace and service account")
    func accepted() async throws {
        let issued = try await identity.token(namespace: "demo", serviceAccount: "billing")
        let verified = try await verifier.verify(issued, providers: [try await provider()])
        #expect(verified.trustProvider == "cluster")
        #expect(verified.type == "kubernetes-service-account")
        #expect(
            verified.published == [
                "iss": DemoIdentity.issuer, "sub": "system:serviceaccount:demo:billing", "namespace": "demo",
                "serviceAccount": "billing",
            ])
        let hand = try await token(claims: claims())
        #expect(try await verifier.verify(hand, providers: [try await provider()]).serviceAccount == "billing")
    }

    @Test("hostile and unusable tokens are refused with a specific reason")
    func refusals() async throws {
        let provider = try await provider()
        let other = DemoIdentity()
        let cases: [(String, String, AttestationRefusal)] = [
            ("garbage", "not.a.jwt", .tokenMalformed),
            (
                "crit header",
                try await token(
                    header: ["alg": "ES256", "kid": DemoIdentity.keyID, "crit": ["exp"]], claims: claims()),
                .criticalHeaderUnsupported
            ),
            (
                "kid not in the set",
                try await token(header: ["alg": "ES256", "kid": "rotated-away"], claims: claims()),
                .keyUnknown("the token's key (kid \"rotated-away\") is not in the trust provider's key set")
            ),
            (
                "no kid", try await token(header: ["alg": "ES256"], claims: claims()),
                .keyUnknown("the token names no key (kid) and the trust provider requires one")
            ),
            (
                "lifetime too long", try await token(claims: claims(exp: 2 * 86_400)),
                .lifetimeTooLong(172_800, maximum: 86_400)
            ),
            ("no nbf", try await token(claims: claims(drop: "nbf")), .claimMissing("nbf")),
            ("no iat", try await token(claims: claims(drop: "iat")), .claimMissing("iat")),
            (
                "exp as a string",
                try await token(claims: claims().merging(["exp": "tomorrow"]) { $1 }), .claimTypeInvalid
            ),
            ("two segments", "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJ4In0", .tokenMalformed),
            ("too large", String(repeating: "a", count: 17_000), .tokenTooLarge),
            ("alg none", try await token(header: ["alg": "none"], claims: claims()), .algorithmNotAllowed),
            (
                "alg HS256", try await token(header: ["alg": "HS256", "kid": DemoIdentity.keyID], claims: claims()),
                .algorithmNotAllowed
            ),
            (
                "alg RS256 not allowed here",
                try await token(header: ["alg": "RS256", "kid": DemoIdentity.keyID], claims: claims()),
                .algorithmNotAllowed
            ),
            ("another key", try await token(claims: claims(), signWith: other), .signatureInvalid),
            ("expired", try await token(claims: claims(exp: -120)), .tokenExpired),
            ("not yet valid", try await token(claims: claims(nbf: 3_600)), .tokenNotYetValid),
            (
                "right issuer, wrong audience", try await token(claims: claims(aud: ["someone-else"])),
                .claimMismatch("aud", expected: "one of [\"sigil\"]", actual: "[\"\\\"someone-else\\\"\"]")
            ),
            ("no audience", try await token(claims: claims(drop: "aud")), .claimMissing("aud")),
            ("no expiry", try await token(claims: claims(drop: "exp")), .claimMissing("exp")),
            (
                "not a service account", try await token(claims: claims(sub: "user:alice")),
                .claimMissing("sub (system:serviceaccount:<namespace>:<name>)")
            ),
        ]
        for (name, token, expected) in cases {
            do {
                _ = try await verifier.verify(token, providers: [provider])
                Issue.record("\(name): accepted")
            } catch {
                #expect(error == expected, "\(name)")
            }
        }
        // Unknown issuer: no provider of this tenant.
        let issued = try await identity.token(namespace: "demo", serviceAccount: "billing")
        await #expect(throws: AttestationRefusal.unknownIssuer) { try await verifier.verify(issued, providers: []) }
        // A tampered payload breaks the signature.
        var parts = issued.split(separator: ".").map(String.init)
        parts[1] = try JSONSerialization.data(withJSONObject: claims(sub: "system:serviceaccount:kube-system:admin"))
            .base64URL
        await #expect(throws: AttestationRefusal.signatureInvalid) {
            try await verifier.verify(parts.joined(separator: "."), providers: [provider])
        }
    }

    @Test("trust provider specs that would weaken verification are refused, naming the field")
    func providerValidation() async throws {
        func refusal(_ spec: [String: Any]) async -> ProblemDetails? {
            do {
                let context = try await ResourceBench.context(.identityAttestation)
                _ = try await ResourceBench.admit(
                    TrustProviderSpec.self, "cluster", try JSONValue(json: spec), context: context)
                return nil
            } catch { return error as? ProblemDetails }
        }
        let base: [String: Any] = [
            "type": "kubernetes-service-account", "issuer": "https://k8s", "audiences": ["sigil"],
            "jwks": try identity.jwks(),
        ]
        #expect(await refusal(base) == nil)
        #expect(
            await refusal(base.merging(["allowedAlgorithms": ["none"]]) { $1 })?.field == "spec.allowedAlgorithms[0]")
        #expect(
            await refusal(base.merging(["allowedAlgorithms": ["HS256"]]) { $1 })?.field == "spec.allowedAlgorithms[0]")
        #expect(await refusal(base.merging(["audiences": []]) { $1 })?.field == "spec.audiences")
        #expect(await refusal(base.merging(["jwks": ["keys": []]]) { $1 })?.field == "spec.jwks")
        // A key set is an object, as the schema says: a list is refused by the schema before the kind reads it.
        #expect(await refusal(base.merging(["jwks": [NSNull()]]) { $1 })?.detail == "spec.jwks must be a mapping")
        #expect(await refusal(base.merging(["jwksFile": "/etc/jwks.json"]) { $1 })?.field == "spec.jwks")
        #expect(await refusal(base.merging(["type": "oidc"]) { $1 })?.field == "spec.type")
        // A key set with private material in it (a private EC key's d) is refused, naming the member.
        var leaked = try identity.jwks()
        var leakedKeys = leaked["keys"] as! [[String: Any]]
        leakedKeys[0]["d"] = "c2VjcmV0"
        leaked["keys"] = leakedKeys
        #expect(await refusal(base.merging(["jwks": leaked]) { $1 })?.field == "spec.jwks.keys[0].d")
        #expect(
            await refusal(base.merging(["maxTokenLifetimeSeconds": 10]) { $1 })?.field == "spec.maxTokenLifetimeSeconds"
        )
        #expect(await refusal(base.merging(["audience": "typo"]) { $1 })?.field == "spec.audience")
        var noIssuer = base
        noIssuer.removeValue(forKey: "issuer")
        #expect(await refusal(noIssuer)?.field == "spec.issuer")
    }

    @Test("attack tokens: HS256 signed with the public key's bytes, an algorithm the key is not for, a kid-less token")
    func keyConfusion() async throws {
        // The classic confusion: HMAC keyed with the public key's bytes, which anyone has.
        let jwk = (try identity.jwks()["keys"] as! [[String: Any]])[0]
        let publicBytes = Data(base64URL: jwk["x"] as! String)! + Data(base64URL: jwk["y"] as! String)!
        let header = try JSONSerialization.data(withJSONObject: ["alg": "HS256", "kid": DemoIdentity.keyID]).base64URL
        let payload = try JSONSerialization.data(withJSONObject: claims()).base64URL
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data("\(header).\(payload)".utf8), using: SymmetricKey(data: publicBytes))
        let hmacToken = "\(header).\(payload).\(Data(mac).base64URL)"
        await #expect(throws: AttestationRefusal.algorithmNotAllowed) {
            try await verifier.verify(hmacToken, providers: [try await provider(algorithms: ["ES256", "RS256"])])
        }
        // The provider allows RS256, but the key the token names is an ES256 key: refused, not tried.
        let confused = try await token(header: ["alg": "RS256", "kid": DemoIdentity.keyID], claims: claims())
        let both = try await provider(algorithms: ["ES256", "RS256"])
        do {
            _ = try await verifier.verify(confused, providers: [both])
            Issue.record("a token whose algorithm is not its key's was accepted")
        } catch {
            #expect(error.code == "algorithm-not-allowed" && error.detail.contains("is for ES256"), "\(error)")
        }
        // Without a kid: refused by default, accepted where the provider allows trying its keys.
        let kidless = try await token(header: ["alg": "ES256"], claims: claims())
        let lenient = try await provider(extra: ["acceptTokensWithoutKeyID": true])
        #expect(try await verifier.verify(kidless, providers: [lenient]).serviceAccount == "billing")
        // A longer lifetime is accepted where the provider allows it.
        let long = try await token(claims: claims(exp: 2 * 86_400))
        let patient = try await provider(extra: ["maxTokenLifetimeSeconds": 3 * 86_400])
        #expect(try await verifier.verify(long, providers: [patient]).namespace == "demo")
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}

extension VerifiedEvidence {
    var namespace: String? { attributes.first("namespace") }
    var serviceAccount: String? { attributes.first("serviceAccount") }
}
