import SigilService

/// Type `aws-sts-web-identity`: sigil-issue mints an OIDC token for the workload (signed with the tenant's ES256 key,
/// verifiable at the tenant's JWKS, which AWS reads as an IAM OIDC identity provider) and exchanges it with STS
/// `AssumeRoleWithWebIdentity` for temporary credentials; the edge signs each request with them (SigV4). No AWS secret
/// is stored anywhere: the trust is the IAM role's trust policy on Sigil's issuer.
struct AWSWebIdentityCredential: Codable, Sendable, Equatable {
    static let type = "aws-sts-web-identity"

    enum Payload: String, Codable, Sendable, CaseIterable {
        /// The body's SHA-256 is signed (the edge reads the body whole first).
        case signed
        /// `UNSIGNED-PAYLOAD` (S3 only): the body streams through unread.
        case unsigned
    }

    static let schema = SpecSchema.ObjectSchema(
        "Temporary AWS credentials from STS AssumeRoleWithWebIdentity, for a token Sigil mints; the edge signs each "
            + "request with SigV4.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "roleARN",
                .string(
                    maxLength: 2_048,
                    pattern: (
                        regex: "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$",
                        meaning: "an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
                    )),
                required: true, "The IAM role to assume; its trust policy names the tenant's issuer."),
            .init(
                "region",
                .string(
                    maxLength: 32, pattern: (regex: "^[a-z]{2}(-[a-z]+)+-[0-9]+$", meaning: "an AWS region (us-east-1)")
                ), required: true, "The region requests are signed for (and of the default STS endpoint)."),
            .init(
                "service",
                .string(
                    maxLength: 64, pattern: (regex: "^[a-z0-9-]+$", meaning: "a SigV4 service name (s3, execute-api)")),
                required: true, "The service requests are signed for, as SigV4 names it."),
            .init(
                "durationSeconds", .integer(minimum: 900, maximum: 43_200), default: 3_600,
                "How long the STS session lasts (within the role's maximum)."),
            .init(
                "audience", .string(maxLength: 512), default: "sts.amazonaws.com",
                "`aud` of the minted token (the IAM OIDC provider's client id)."),
            .init(
                "subjectClaim", .string(maxLength: 128),
                "The attested claim whose value is the token's `sub` (default: the client workload's name)."),
            .init(
                "stsEndpoint", .string(maxLength: 2_048),
                "STS (default https://sts.<region>.amazonaws.com; https, http only to this host)."),
            .init(
                "payload", .string(choices: Payload.allCases.map(\.rawValue)), default: "signed",
                "`signed`: the body's hash is signed (bodies up to SIGIL_EDGE_MAX_SIGNED_BODY_BYTES); `unsigned`: "
                    + "UNSIGNED-PAYLOAD, S3 only, for large uploads."),
        ])

    var roleARN: String
    var region: String
    var service: String
    var durationSeconds: Int
    var audience: String
    var subjectClaim: String?
    var stsEndpoint: String?
    var payload: Payload

    func admitted() throws -> Self {
        if let stsEndpoint { try OutboundURL.check(stsEndpoint, field: "spec.stsEndpoint") }
        if payload == .unsigned, service != "s3" {
            throw ProblemDetails.invalidField(
                "spec.payload", "spec.payload: unsigned is only for service s3 (other AWS services refuse it)")
        }
        return self
    }

    /// Where AssumeRoleWithWebIdentity goes.
    var endpoint: String { stsEndpoint ?? "https://sts.\(region).amazonaws.com/" }

    /// The token STS is given: the tenant's ES256 key, five minutes, `aud` as configured.
    var token: JWTCredential {
        JWTCredential(
            algorithm: .es256, audience: [audience], ttlSeconds: 300, profile: .jwt, trustDomain: nil,
            subjectClaim: subjectClaim, claims: nil, inject: .bearer, header: nil, prefix: nil)
    }
}
