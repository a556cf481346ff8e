import Foundation
import JWTKit
import SigilClient
import SigilEvents
import SigilService
import Testing

@testable import IdentityAttestation

@Suite("Service-account token verification: accepted tokens and hostile ones, each with its reason")
struct ServiceAccountTokenTests {
    let identity = DemoIdentity()
    let verifier = ServiceAccountTokenVerifier()

    func provider(
        algorithms: [String] = ["ES256"], audiences: [String] = ["sigil"], identity: DemoIdentity? = nil
    ) async throws -> TrustProvider {
        let jwks = try JSONSerialization.data(withJSONObject: try (identity ?? self.identity).jwks())
        let spec = try JSONDecoder().decode(
            JSONValue.self,
            from: JSONSerialization.data(withJSONObject: [
                "type": "kubernetes-service-account", "issuer": DemoIdentity.issuer, "audiences": audiences,
                "jwks": try JSONSerialization.jsonObject(with: jwks), "allowedAlgorithms": algorithms,
            ]))
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
        var claims: [String: Any] = ["iss": DemoIdentity.issuer, "sub": sub, "aud": aud, "exp": now + exp, "iat": now]
        if let nbf { claims["nbf"] = now + nbf }
        if let drop { claims.removeValue(forKey: drop) }
        return claims
    }

    @Test("a token from the demo issuer verifies to its namespace and service account")
    func accepted() async throws {
        let issued = try await identity.token(namespace: "demo", serviceAccount: "billing")
        let verified = try await verifier.verify(issued, providers: [try await provider()])
        #expect(
            verified
                == VerifiedServiceAccount(
                    trustProvider: "cluster", issuer: DemoIdentity.issuer,
                    subject: "system:serviceaccount:demo:billing", namespace: "demo", serviceAccount: "billing"))
        let hand = try await token(claims: claims())
        #expect(try await verifier.verify(hand, providers: [try await provider()]).serviceAccount == "billing")
    }

    @Test("hostile and unusable tokens are refused with a specific reason")
    func refusals() async throws {
        let provider = try await provider()
        let other = DemoIdentity()
        let cases: [(String, String, AttestationRefusal)] = [
            ("garbage", "not.a.jwt", .tokenMalformed),
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
            ("wrong audience", try await token(claims: claims(aud: ["someone-else"])), .audienceMismatch),
            ("no audience", try await token(claims: claims(drop: "aud")), .missingClaim),
            ("no expiry", try await token(claims: claims(drop: "exp")), .missingClaim),
            ("not a service account", try await token(claims: claims(sub: "user:alice")), .missingClaim),
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
        #expect(await refusal(base.merging(["jwksFile": "/etc/jwks.json"]) { $1 })?.field == "spec.jwks")
        #expect(await refusal(base.merging(["type": "oidc"]) { $1 })?.field == "spec.type")
        #expect(await refusal(base.merging(["audience": "typo"]) { $1 })?.field == "spec.audience")
        var noIssuer = base
        noIssuer.removeValue(forKey: "issuer")
        #expect(await refusal(noIssuer)?.field == "spec.issuer")
    }
}

extension Data {
    var base64URL: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
