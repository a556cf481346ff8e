import Foundation
import SigilEvents

/// Verifies every piece of evidence a request carries against the tenant's trust providers. Every piece must
/// verify: evidence that fails is a refusal naming why, even when other pieces pass (a presented token that does not
/// verify is a misconfiguration or an attack, never to be skipped).
package struct Attestor: Sendable {
    package let jwt: JWTVerifier

    package init(jwt: JWTVerifier) {
        self.jwt = jwt
    }

    package func verify(
        _ bundle: WorkloadEvidenceBundle, providers: [TrustProvider], now: Date = Date()
    ) async throws(AttestationRefusal) -> [VerifiedEvidence] {
        guard !bundle.isEmpty else { throw .evidenceMissing }
        guard bundle.tokens.count <= WorkloadEvidenceBundle.maximumTokens else {
            throw .evidenceMalformed("the request carries more than \(WorkloadEvidenceBundle.maximumTokens) tokens")
        }
        var verified: [VerifiedEvidence] = []
        for token in bundle.tokens {
            verified.append(try await jwt.verify(token, providers: providers, now: now))
        }
        return verified
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
