import Foundation
import SigilEvents
import SigilService

/// Type `jwt`: Sigil mints a JWT for each grant, signed with the tenant's current key (`TenantSigningKeys`), so the
/// upstream verifies it against the tenant's published JWKS and holds no secret of Sigil's. `sub` is the client
/// workload (or an attested claim); custom claims are literal or taken from the attested identity (an attested claim
/// that is missing refuses the issuance: an upstream may rely on it). The `jwt-svid` profile makes `sub` a SPIFFE ID
/// in the trust domain, as a JWT-SVID.
struct JWTCredential: Codable, Sendable, Equatable {
    static let type = "jwt"

    enum Profile: String, Codable, Sendable, CaseIterable {
        case jwt
        case jwtSVID = "jwt-svid"
    }

    enum Injection: String, Codable, Sendable, CaseIterable {
        case bearer, header
    }

    /// A custom claim: a literal value, or the value of an attested claim.
    struct ClaimSource: Codable, Sendable, Equatable {
        var value: String?
        var claim: String?
    }

    /// The registered claims Sigil sets itself.
    static let reserved: Set<String> = ["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]

    static let schema = SpecSchema.ObjectSchema(
        "A JWT minted and signed by Sigil for each grant; verifiers use the tenant's JWKS.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "algorithm", .string(choices: TenantSigningKeys.Algorithm.allCases.map(\.rawValue)), default: "ES256",
                "The signing algorithm (the tenant's key for it)."),
            .init(
                "audience", .array(of: .string(maxLength: 512), minItems: 1, maxItems: 8), required: true,
                "`aud`: who the token is for (the upstream checks it)."),
            .init(
                "ttlSeconds", .integer(minimum: 30, maximum: 3_600), default: 300,
                "How long a token lives (never longer than the grant)."),
            .init(
                "profile", .string(choices: Profile.allCases.map(\.rawValue)), default: "jwt",
                "`jwt-svid`: `sub` is spiffe://<trustDomain>/<client workload> (or the subjectClaim's SPIFFE ID)."),
            .init(
                "trustDomain",
                .string(
                    maxLength: 255,
                    pattern: (regex: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", meaning: "a SPIFFE trust domain name")),
                "The SPIFFE trust domain, for the jwt-svid profile."),
            .init(
                "subjectClaim", .string(maxLength: 128),
                "The attested claim whose value is `sub` (default: the client workload's name)."),
            .init(
                "claims",
                .map(
                    of: .object(
                        "A literal value or an attested claim.",
                        [
                            .init("value", .string(maxLength: 1_024), "A literal value."),
                            .init("claim", .string(maxLength: 128), "The attested claim whose value it takes."),
                        ]), maxEntries: 32),
                "Further claims by name: {value: literal} or {claim: attested-claim}."),
            .init(
                "inject", .string(choices: Injection.allCases.map(\.rawValue)), default: "bearer",
                "`bearer`: Authorization: Bearer <token>; `header`: the token in the named header (after `prefix`)."),
            .init("header", InjectionSchema.header, "The header, when inject is `header`."),
            .init("prefix", InjectionSchema.prefix, "Written before the token in the header, when inject is `header`."),
        ])

    var algorithm: TenantSigningKeys.Algorithm
    var audience: [String]
    var ttlSeconds: Int
    var profile: Profile
    var trustDomain: String?
    var subjectClaim: String?
    var claims: [String: ClaimSource]?
    var inject: Injection
    var header: String?
    var prefix: String?

    func admitted() throws -> Self {
        if profile == .jwtSVID, trustDomain == nil {
            throw ProblemDetails.invalidField(
                "spec.trustDomain", "spec.trustDomain is required for the jwt-svid profile")
        }
        if profile == .jwt, trustDomain != nil {
            throw ProblemDetails.invalidField("spec.trustDomain", "spec.trustDomain is only for the jwt-svid profile")
        }
        for (name, source) in (claims ?? [:]).sorted(by: { $0.key < $1.key }) {
            guard !Self.reserved.contains(name) else {
                throw ProblemDetails.invalidField(
                    "spec.claims.\(name)", "spec.claims.\(name) is set by Sigil (iss, sub, aud, exp, iat, nbf, jti)")
            }
            guard (source.value == nil) != (source.claim == nil) else {
                throw ProblemDetails.invalidField(
                    "spec.claims.\(name)", "give exactly one of spec.claims.\(name).value and .claim")
            }
        }
        try InjectionSchema.check(bearer: inject == .bearer, header: header, prefix: prefix)
        return self
    }

    /// Who a grant's credential names: the client workload, or the value of an attested claim (missing: refused, since
    /// an upstream may rely on it); in `trustDomain`, a SPIFFE ID (`spiffe://<domain>/<subject>`).
    static func subject(
        of granted: AccessGranted, claim: String?, trustDomain: String?
    ) throws(RefusalReason) -> String {
        var subject = granted.clientWorkload
        if let claim {
            guard let value = granted.claims?[claim] else {
                throw RefusalReason(
                    code: "claim-missing",
                    detail:
                        "the attested identity has no claim \(claim), which credential provider \(granted.credentialProvider) needs"
                )
            }
            subject = value
        }
        if let trustDomain, !subject.hasPrefix("spiffe://") { subject = "spiffe://\(trustDomain)/\(subject)" }
        return subject
    }

    /// The token's claims for a grant, or why not (an attested claim it needs is missing).
    func claims(
        for granted: AccessGranted, issuer: String, at moment: Date
    ) throws(RefusalReason) -> [String: JSONValue] {
        let attested = granted.claims ?? [:]
        func attestedClaim(_ name: String) throws(RefusalReason) -> String {
            guard let value = attested[name] else {
                throw RefusalReason(
                    code: "claim-missing",
                    detail:
                        "the attested identity has no claim \(name), which credential provider \(granted.credentialProvider) needs"
                )
            }
            return value
        }
        let subject = try Self.subject(
            of: granted, claim: subjectClaim, trustDomain: profile == .jwtSVID ? trustDomain : nil)
        let issuedAt = Int(moment.timeIntervalSince1970)
        let lifetime = min(ttlSeconds, granted.ttlSeconds)
        var result: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject),
            "aud": audience.count == 1 ? .string(audience[0]) : .array(audience.map(JSONValue.string)),
            "iat": .number(Double(issuedAt)), "nbf": .number(Double(issuedAt)),
            "exp": .number(Double(issuedAt + lifetime)), "jti": .string(granted.requestID),
        ]
        for (name, source) in claims ?? [:] {
            if let value = source.value {
                result[name] = .string(value)
            } else if let claim = source.claim {
                result[name] = .string(try attestedClaim(claim))
            }
        }
        return result
    }
}
