import Foundation
import SigilCrypto
import SigilService
import SwiftASN1
import X509

/// Type `x509`: a short-lived client certificate per grant from the tenant's certificate authority
/// (`TenantCertificateAuthority`), its SPIFFE ID (`spiffe://<trustDomain>/<client workload>`, or an attested claim's)
/// the one URI SAN — an X.509-SVID. The edge presents it in the TLS it originates to an `https` server workload, so
/// the upstream authenticates the workload by mutual TLS; upstreams trust `/tenants/{tenant}/x509-bundle.pem` — or,
/// with `caCertificate` and `caKey`, an imported CA the upstreams already trust (its key encrypted at admission).
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
            .init(
                "caCertificate", .pem,
                "An imported CA certificate (PEM) that issues instead of the tenant's CA; with caKey."),
            .init(
                "caKey", .pem, writeOnly: true, "The imported CA's private key (PEM); encrypted at admission."),
            .init(
                "caKeyEncrypted", .string(maxLength: 16_384), readOnly: true,
                "The imported CA's key as stored (encrypted with the tenant's key). Accepted back unchanged."),
        ])

    var trustDomain: String
    var ttlSeconds: Int
    var subjectClaim: String?
    var caCertificate: String?
    var caKey: String?
    var caKeyEncrypted: EncryptedValue?

    func admitted(_ admission: Admission<CredentialProviderSpec>, current: X509Credential?) async throws -> Self {
        var stored = self
        stored.caKey = nil
        guard let caCertificate else {
            if caKey != nil || caKeyEncrypted != nil {
                throw ProblemDetails.invalidField("spec.caCertificate", "spec.caKey needs spec.caCertificate")
            }
            return stored
        }
        let certificate: Certificate
        do {
            certificate = try Certificate(pemEncoded: caCertificate)
        } catch {
            throw ProblemDetails.invalidField("spec.caCertificate", "spec.caCertificate is not one PEM certificate")
        }
        guard case .isCertificateAuthority = try? certificate.extensions.basicConstraints else {
            throw ProblemDetails.invalidField("spec.caCertificate", "spec.caCertificate is not a CA (basicConstraints)")
        }
        guard certificate.notValidAfter > Date() else {
            throw ProblemDetails.invalidField(
                "spec.caCertificate", "spec.caCertificate expired at \(certificate.notValidAfter)")
        }
        if let caKey {
            guard let (key, _) = TenantCertificateAuthority.importedKey(caKey), key.publicKey == certificate.publicKey
            else {
                throw ProblemDetails.invalidField(
                    "spec.caKey", "spec.caKey must be the PEM private key of spec.caCertificate")
            }
        }
        stored.caKeyEncrypted = try await TenantSecret.admit(
            clear: caKey, encrypted: caKeyEncrypted, current: current?.caKeyEncrypted, field: "caKey",
            admission: admission)
        return stored
    }
}
