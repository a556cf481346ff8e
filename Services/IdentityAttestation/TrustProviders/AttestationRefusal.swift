/// Why evidence was not accepted: a stable reason code and a detail that never quotes the evidence.
struct AttestationRefusal: Error, Sendable, Equatable {
    let code: String
    let detail: String

    static let evidenceUnsealable = AttestationRefusal(
        code: "evidence-unsealable", detail: "the evidence is not sealed to a current attestation key for this request")
    static let tokenTooLarge = AttestationRefusal(code: "token-too-large", detail: "the token exceeds 16 KiB")
    static let tokenMalformed = AttestationRefusal(
        code: "malformed", detail: "the token is not a signed JWT with a JSON header and payload")
    static let claimTypeInvalid = AttestationRefusal(
        code: "malformed",
        detail: "a registered claim (exp, nbf, iat: numbers; iss, sub: strings; aud) has the wrong type")
    static let criticalHeaderUnsupported = AttestationRefusal(
        code: "critical-header-unsupported", detail: "the token has a crit header; no critical extension is understood")
    static func keyUnknown(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "key-unknown", detail: detail)
    }
    static func keyAlgorithmMismatch(_ detail: String) -> AttestationRefusal {
        AttestationRefusal(code: "algorithm-not-allowed", detail: detail)
    }
    static func claimMissing(_ claim: String) -> AttestationRefusal {
        AttestationRefusal(
            code: "claim-missing", detail: "the token has no \(claim) claim (or it is not of the right type)")
    }
    static func claimMismatch(_ claim: String, expected: String, actual: String) -> AttestationRefusal {
        AttestationRefusal(code: "claim-mismatch", detail: "\(claim): expected \(expected), the token has \(actual)")
    }
    static func lifetimeTooLong(_ seconds: Int, maximum: Int) -> AttestationRefusal {
        AttestationRefusal(
            code: "token-lifetime-too-long",
            detail: "the token is valid for \(seconds) s (exp - iat); the trust provider allows at most \(maximum) s")
    }
    static let unknownIssuer = AttestationRefusal(
        code: "unknown-issuer", detail: "no trust provider of this tenant has the token's issuer")
    static let algorithmNotAllowed = AttestationRefusal(
        code: "algorithm-not-allowed", detail: "the token's signature algorithm is not allowed by the trust provider")
    static let signatureInvalid = AttestationRefusal(
        code: "signature-invalid", detail: "the token's signature does not verify with the trust provider's keys")
    static let jwksUnavailable = AttestationRefusal(
        code: "jwks-unavailable", detail: "the trust provider's keys could not be read")
    static let tokenExpired = AttestationRefusal(code: "token-expired", detail: "the token has expired")
    static let tokenNotYetValid = AttestationRefusal(
        code: "token-not-yet-valid", detail: "the token is not valid yet (nbf or iat in the future)")
    static let replayedRequest = AttestationRefusal(
        code: "replayed-request", detail: "this request id was already taken by another access request")
    static let deadlineTooFar = AttestationRefusal(
        code: "deadline-too-far", detail: "the request's deadline is further ahead than any edge waits")
    static let noClientWorkload = AttestationRefusal(
        code: "no-client-workload", detail: "no client workload matches the verified namespace and service account")
}
