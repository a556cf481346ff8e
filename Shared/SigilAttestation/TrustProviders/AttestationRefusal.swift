/// Why evidence was not accepted: a stable reason code and a detail that never quotes the evidence.
package struct AttestationRefusal: Error, Sendable, Equatable {
    package let code: String
    package let detail: String

    package init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    package static let evidenceUnsealable = AttestationRefusal(
        code: "evidence-unsealable", detail: "the evidence is not sealed to a current attestation key for this request")
    package static let tokenTooLarge = AttestationRefusal(code: "token-too-large", detail: "the token exceeds 16 KiB")
    package static let tokenMalformed = AttestationRefusal(
        code: "malformed", detail: "the token is not a signed JWT with a JSON header and payload")
    package static let claimTypeInvalid = AttestationRefusal(
        code: "malformed",
        detail: "a registered claim (exp, nbf, iat: numbers; iss, sub: strings; aud) has the wrong type")
    package static let criticalHeaderUnsupported = AttestationRefusal(
        code: "critical-header-unsupported", detail: "the token has a crit header; no critical extension is understood")
    package static func keyUnknown(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "key-unknown", detail: detail)
    }
    package static func keyAlgorithmMismatch(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "algorithm-not-allowed", detail: detail)
    }
    package static func claimMissing(_ claim: String) -> AttestationRefusal {
        AttestationRefusal(
            code: "claim-missing", detail: "the token has no \(claim) claim (or it is not of the right type)")
    }
    package static func claimMismatch(_ claim: String, expected: String, actual: String) -> AttestationRefusal {
        AttestationRefusal(code: "claim-mismatch", detail: "\(claim): expected \(expected), the token has \(actual)")
    }
    package static func lifetimeTooLong(_ seconds: Int, maximum: Int) -> AttestationRefusal {
        AttestationRefusal(
            code: "token-lifetime-too-long",
            detail: "the token is valid for \(seconds) s (exp - iat); the trust provider allows at most \(maximum) s")
    }
    package static let unknownIssuer = AttestationRefusal(
        code: "unknown-issuer", detail: "no trust provider of this tenant has the token's issuer")
    package static let algorithmNotAllowed = AttestationRefusal(
        code: "algorithm-not-allowed", detail: "the token's signature algorithm is not allowed by the trust provider")
    package static let signatureInvalid = AttestationRefusal(
        code: "signature-invalid", detail: "the token's signature does not verify with the trust provider's keys")
    package static let jwksUnavailable = AttestationRefusal(
        code: "jwks-unavailable", detail: "the trust provider's keys could not be read")
    package static let tokenExpired = AttestationRefusal(code: "token-expired", detail: "the token has expired")
    package static let tokenNotYetValid = AttestationRefusal(
        code: "token-not-yet-valid", detail: "the token is not valid yet (nbf or iat in the future)")
    package static let replayedRequest = AttestationRefusal(
        code: "replayed-request", detail: "this request id was already taken by another access request")
    package static let deadlineTooFar = AttestationRefusal(
        code: "deadline-too-far", detail: "the request's deadline is further ahead than any edge waits")
    package static let noClientWorkload = AttestationRefusal(
        code: "no-client-workload", detail: "no client workload's identifiers match the verified evidence")
    package static func ambiguousClientWorkload(_ names: [String]) -> AttestationRefusal {
        AttestationRefusal(
            code: "ambiguous-client-workload",
            detail: "the verified evidence matches several client workloads (\(names.prefix(5).joined(separator: ", "))"
                + "\(names.count > 5 ? ", …" : "")); narrow their identifiers so that one matches")
    }
    package static let evidenceMissing = AttestationRefusal(
        code: "evidence-missing", detail: "the request carries no evidence")
    package static func evidenceMalformed(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "malformed", detail: detail)
    }
    package static func unknownIssuer(detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "unknown-issuer", detail: detail)
    }
    package static func certificateUntrusted(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "certificate-untrusted", detail: detail)
    }
    package static let proofInvalid = AttestationRefusal(
        code: "proof-invalid", detail: "the proof is not a signature by the certificate's key over this request")
    package static let certificateExpired = AttestationRefusal(
        code: "certificate-expired", detail: "the leaf certificate has expired")
    package static let certificateNotYetValid = AttestationRefusal(
        code: "certificate-not-yet-valid", detail: "the leaf certificate is not valid yet")
    package static let certificateRevoked = AttestationRefusal(
        code: "certificate-revoked", detail: "a certificate of the chain is on its issuer's revocation list")
    package static func revocationListStale(issuer: String) -> AttestationRefusal {
        AttestationRefusal(
            code: "crl-stale",
            detail: "the revocation list of \(issuer.prefix(200)) is past its nextUpdate; apply a current one")
    }
}

extension AttestationRefusal {
    package static let joinTokenUnknown = AttestationRefusal(
        code: "join-token-unknown", detail: "the join token was not issued by this tenant (or was revoked)")
    package static let joinTokenUsed = AttestationRefusal(
        code: "join-token-used", detail: "the join token was already used; a join token admits one request")
    package static let joinTokenExpired = AttestationRefusal(
        code: "token-expired", detail: "the join token has expired")
    package static let joinTokensUnavailable = AttestationRefusal(
        code: "join-tokens-unavailable", detail: "join tokens cannot be checked now (no database); try again")
}
