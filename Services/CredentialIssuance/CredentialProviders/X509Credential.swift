import SigilService

/// Type `x509`: a short-lived client certificate per grant from the tenant's certificate authority
/// (`TenantCertificateAuthority`), its SPIFFE ID (`spiffe://<trustDomain>/<client workload>`, or an attested claim's)
/// the one URI SAN — an X.509-SVID. The edge presents it in the TLS it originates to an `https` server workload, so
/// the upstream authenticates the workload by mutual TLS; upstreams trust `/tenants/{tenant}/x509-bundle.pem`.
struct X509Credential: Codable, Sendable, Equatable {
    static let type = "x509"

    static let schema = SpecSchema.ObjectSchema(
        "A client certificate (X.509-SVID) from the tenant's CA, presented by the edge in mutual TLS to an https server "
            + "workload.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "trustDomain",
                .string(
                    maxLength: 255,
                    pattern: (regex: "^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", meaning: "a SPIFFE trust domain name")),
                required: true, "The SPIFFE trust domain of the certificate's URI SAN."),
            .init(
                "ttlSeconds", .integer(minimum: 60, maximum: 86_400), default: 3_600,
                "How long a certificate lives (never longer than the grant)."),
            .init(
                "subjectClaim", .string(maxLength: 128),
                "The attested claim whose value is the SPIFFE ID's path (default: the client workload's name)."),
        ])

    var trustDomain: String
    var ttlSeconds: Int
    var subjectClaim: String?
}
