import Foundation
import SigilEvents

/// Verifies every piece of evidence a request carries against the tenant's trust providers. Every piece must
/// verify: evidence that fails is a refusal naming why, even when other pieces pass (a presented token that does not
/// verify is a misconfiguration or an attack, never to be skipped).
package struct Attestor: Sendable {
    package let jwt: JWTVerifier
    package let x509: X509Verifier
    /// Where join tokens are taken (nil without a database: a join token is then refused).
    package let joinTokens: (any JoinTokenRedeemer)?

    package init(jwt: JWTVerifier, x509: X509Verifier = X509Verifier(), joinTokens: (any JoinTokenRedeemer)? = nil) {
        self.jwt = jwt
        self.x509 = x509
        self.joinTokens = joinTokens
    }

    /// `tenant` and `requestID`: the request the evidence was sealed into, which proofs of possession sign.
    package func verify(
        _ bundle: WorkloadEvidenceBundle, tenant: String, requestID: String, providers: [TrustProvider],
        now: Date = Date()
    ) async throws(AttestationRefusal) -> [VerifiedEvidence] {
        guard !bundle.isEmpty else { throw .evidenceMissing }
        guard bundle.tokens.count <= WorkloadEvidenceBundle.maximumTokens else {
            throw .evidenceMalformed("the request carries more than \(WorkloadEvidenceBundle.maximumTokens) tokens")
        }
        var verified: [VerifiedEvidence] = []
        for token in bundle.tokens {
            verified.append(try await jwt.verify(token, providers: providers, now: now))
        }
        if let certificate = bundle.x509 {
            verified.append(
                try await x509.verify(certificate, tenant: tenant, requestID: requestID, providers: providers, now: now)
            )
        }
        if let document = bundle.awsInstanceIdentity {
            verified.append(try AWSInstanceIdentityVerifier().verify(document, providers: providers))
        }
        if let presented = bundle.joinToken {
            verified.append(try await redeem(presented, tenant: tenant, requestID: requestID, providers: providers))
        }
        return verified
    }

    /// A join token, taken for this request: it must be shaped like one, issued by this tenant for a `join-token`
    /// provider that still exists, unexpired and unused. A database that cannot be reached refuses the request
    /// (fail closed) without taking the token, so the holder can try again.
    private func redeem(
        _ presented: String, tenant: String, requestID: String, providers: [TrustProvider]
    ) async throws(AttestationRefusal) -> VerifiedEvidence {
        guard let token = JoinToken(presented: presented) else {
            throw .evidenceMalformed("the join token is not shaped like one (sigil-join.<id>.<secret>)")
        }
        guard let joinTokens else { throw .joinTokensUnavailable }
        let redemption: JoinTokenRedemption
        do {
            redemption = try await joinTokens.redeem(token, tenant: tenant, requestID: requestID)
        } catch {
            throw .joinTokensUnavailable
        }
        switch redemption {
        case .alreadyUsed: throw .joinTokenUsed
        case .expired: throw .joinTokenExpired
        case .unknown: throw .joinTokenUnknown
        case .redeemed(let trustProvider, let name):
            guard let provider = providers.first(where: { $0.name == trustProvider }),
                case .joinToken = provider.verification
            else { throw .joinTokenUnknown }
            var attributes = WorkloadAttributes()
            attributes.set("name", name)
            attributes.set("tokenID", token.id)
            return VerifiedEvidence(
                trustProvider: provider.name, type: provider.type, attributes: attributes,
                published: ["name", "tokenID"])
        }
    }

    /// The attestation event's claims: the one piece's attributes as they are, or with several pieces, each
    /// prefixed by its trust provider (`github.repository`).
    package static func publishedClaims(_ evidence: [VerifiedEvidence]) -> [String: String] {
        guard evidence.count > 1 else { return evidence.first?.published ?? [:] }
        var claims: [String: String] = [:]
        for piece in evidence {
            for (name, value) in piece.published { claims["\(piece.trustProvider).\(name)"] = value }
        }
        return claims
    }
}
