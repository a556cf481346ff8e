import Foundation
import SigilClient
import SigilEvents
import SigilService
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

/// A trust provider of any type, admitted as the attestation service admits it, with the demo issuer's keys inline.
func admittedProvider(
    _ name: String, _ document: [String: JSONValue], identity: DemoIdentity
) async throws -> TrustProvider {
    var document = document
    document["jwks"] = try JSONDecoder().decode(
        JSONValue.self, from: JSONSerialization.data(withJSONObject: try identity.jwks()))
    let context = try await ResourceBench.context(.identityAttestation)
    return TrustProvider(
        try await ResourceBench.admit(TrustProviderSpec.self, name, .object(document), context: context))
}

@Suite("Trust provider types: GitHub Actions, GitLab CI and OIDC tokens shaped like the real ones")
struct TrustProviderTypeTests {
    let identity = DemoIdentity()
    let verifier = JWTVerifier()

    @Test("a GitHub Actions token verifies with the preset issuer; its repository, ref and environment are attributes")
    func githubActions() async throws {
        let github = try await admittedProvider(
            "github", ["type": "github-actions", "audiences": ["sigil"], "allowedAlgorithms": ["ES256"]],
            identity: identity)
        let token = try await identity.token(claims: CITokenClaims.githubActions())
        let verified = try await verifier.verify(token, providers: [github])
        #expect(verified.type == "github-actions")
        #expect(verified.attributes.first("repository") == "octo-org/octo-repo")
        #expect(
            verified.attributes.first("job_workflow_ref")
                == "octo-org/octo-repo/.github/workflows/deploy.yml@refs/heads/main")
        #expect(verified.published["environment"] == "prod")
        #expect(verified.published["repository_owner"] == "octo-org")
        #expect(verified.published["sha"] == nil, "only the identifying claims are published")

        // A token from another issuer (a look-alike) is not GitHub's.
        let lookalike = try await identity.token(
            claims: CITokenClaims.githubActions(issuer: "https://token.actions.githubusercontent.com.evil"))
        await #expect(throws: AttestationRefusal.unknownIssuer) {
            try await verifier.verify(lookalike, providers: [github])
        }
        // A token without a claim GitHub always sets is not a GitHub token.
        var partial = CITokenClaims.githubActions()
        partial.removeValue(forKey: "job_workflow_ref")
        await #expect(throws: AttestationRefusal.claimMissing("job_workflow_ref")) {
            try await verifier.verify(try await identity.token(claims: partial), providers: [github])
        }
        // GitHub's default audience (the owner's URL) is not Sigil's.
        let wrongAudience = try await identity.token(
            claims: CITokenClaims.githubActions(audience: "https://github.com/octo-org"))
        await #expect(
            throws: AttestationRefusal.claimMismatch(
                "aud", expected: "one of [\"sigil\"]", actual: "[\"\\\"https://github.com/octo-org\\\"\"]")
        ) { try await verifier.verify(wrongAudience, providers: [github]) }
    }

    @Test("a GitLab CI token from a self-managed instance verifies; project, namespace and ref are attributes")
    func gitlabCI() async throws {
        let gitlab = try await admittedProvider(
            "gitlab",
            [
                "type": "gitlab-ci", "issuer": "https://gitlab.example.com", "audiences": ["sigil"],
                "allowedAlgorithms": ["ES256"],
            ], identity: identity)
        let token = try await identity.token(claims: CITokenClaims.gitlabCI(issuer: "https://gitlab.example.com"))
        let verified = try await verifier.verify(token, providers: [gitlab])
        #expect(verified.published["project_path"] == "mygroup/myproject")
        #expect(verified.published["namespace_path"] == "mygroup")
        #expect(verified.published["ref_type"] == "branch")
        #expect(verified.attributes.first("user_identities.provider") == nil, "lists of objects identify nothing")
        // gitlab.com's tokens are not this instance's.
        let saas = try await identity.token(claims: CITokenClaims.gitlabCI())
        await #expect(throws: AttestationRefusal.unknownIssuer) { try await verifier.verify(saas, providers: [gitlab]) }
    }

    @Test("an OIDC ID token's nested claims and lists are attributes by dotted path")
    func oidcNestedClaims() async throws {
        let oidc = try await admittedProvider(
            "corp-idp",
            [
                "type": "oidc-id-token", "issuer": "https://idp.example.com", "audiences": ["sigil"],
                "allowedAlgorithms": ["ES256"],
            ],
            identity: identity)
        let now = Date().timeIntervalSince1970.rounded(.down)
        let token = try await identity.token(claims: [
            "iss": "https://idp.example.com", "sub": "svc-42", "aud": ["sigil", "other"], "iat": .number(now),
            "nbf": .number(now), "exp": .number(now + 300), "groups": ["payments", "oncall"],
            "org": ["team": ["name": "payments"], "level": 3],
        ])
        let verified = try await verifier.verify(token, providers: [oidc])
        #expect(verified.attributes.values["groups"] == ["payments", "oncall"])
        #expect(verified.attributes.first("org.team.name") == "payments")
        #expect(verified.attributes.first("org.level") == "3")
        #expect(verified.published == ["iss": "https://idp.example.com", "sub": "svc-42"])
        let subjectless = try await identity.token(claims: [
            "iss": "https://idp.example.com", "aud": "sigil", "iat": .number(now), "nbf": .number(now),
            "exp": .number(now + 300),
        ])
        await #expect(throws: AttestationRefusal.claimMissing("sub")) {
            try await verifier.verify(subjectless, providers: [oidc])
        }
    }

    @Test("two providers for one issuer: the token is accepted by the one whose audience it carries")
    func sharedIssuer() async throws {
        let first = try await admittedProvider(
            "github-deploy", ["type": "github-actions", "audiences": ["deploy"], "allowedAlgorithms": ["ES256"]],
            identity: identity)
        let second = try await admittedProvider(
            "github-sigil", ["type": "github-actions", "audiences": ["sigil"], "allowedAlgorithms": ["ES256"]],
            identity: identity)
        let token = try await identity.token(claims: CITokenClaims.githubActions())
        #expect(try await verifier.verify(token, providers: [first, second]).trustProvider == "github-sigil")
    }

    @Test("github-actions and gitlab-ci use discovery when no key source is given; oidc-id-token must name one")
    func presets() async throws {
        let context = try await ResourceBench.context(.identityAttestation)
        let github = try await ResourceBench.admit(
            TrustProviderSpec.self, "github", ["type": "github-actions", "audiences": ["sigil"]], context: context)
        #expect(github.spec.jwt?.spec.oidcDiscovery == true)
        #expect(github.spec.jwt?.spec.issuer == "https://token.actions.githubusercontent.com")
        await #expect(throws: ProblemDetails.self) {
            try await ResourceBench.admit(
                TrustProviderSpec.self, "idp",
                ["type": "oidc-id-token", "issuer": "https://idp.example.com", "audiences": ["sigil"]],
                context: context)
        }
    }

    @Test("claims nested thousands deep are refused; a thousand claims keep every one; nothing crashes")
    func hostileShapes() async throws {
        let oidc = try await admittedProvider(
            "corp-idp",
            [
                "type": "oidc-id-token", "issuer": "https://idp.example.com", "audiences": ["sigil"],
                "allowedAlgorithms": ["ES256"],
            ],
            identity: identity)
        // A payload nested 6,000 deep (12 KiB, under the size limit): refused before anything recurses on it.
        let deep = String(repeating: "[", count: 6_000) + String(repeating: "]", count: 6_000)
        let header = try JSONSerialization.data(withJSONObject: ["alg": "ES256", "kid": DemoIdentity.keyID]).base64URL
        let nested = "\(header).\(Data(#"{"iss":"https://idp.example.com","x":\#(deep)}"#.utf8).base64URL).c2ln"
        await #expect(throws: AttestationRefusal.tokenMalformed) {
            try await verifier.verify(nested, providers: [oidc])
        }
        // A thousand claims (the token's 16 KiB bound is what limits them): verified, none dropped.
        let now = Date().timeIntervalSince1970.rounded(.down)
        var claims: [String: JSONValue] = [
            "iss": "https://idp.example.com", "sub": "svc", "aud": "sigil", "iat": .number(now), "nbf": .number(now),
            "exp": .number(now + 300),
        ]
        for index in 0..<1_000 { claims["c\(index)"] = .string("v") }
        let wide = try await verifier.verify(try await identity.token(claims: claims), providers: [oidc])
        #expect(wide.attributes.values.count == 1_006)
        #expect(wide.published["sub"] == "svc")
    }
}
