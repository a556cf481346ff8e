import Foundation
import SigilEvents
import SigilService
import SwiftASN1
import X509

/// Type `x509`: workloads that hold a key whose certificate chains to configured CAs (SPIFFE X.509-SVIDs included),
/// proven per request by a signature over the request id.
package struct X509TrustSpec: Codable, Sendable, Equatable {
    static let type = "x509"
    static let schema = SpecSchema.ObjectSchema(
        "Workloads holding a key whose certificate chains to these CAs (SPIFFE X.509-SVIDs included).",
        [
            .init("type", .string(choices: [type]), required: true, "The trust provider's type."),
            .init(
                "caCertificates", SpecSchema.pem, required: true,
                "PEM: the CA certificates (roots) a workload's chain must end at."),
            .init(
                "crls", .array(of: SpecSchema.pem, minItems: 0, maxItems: 16),
                "PEM `X509 CRL`s of these CAs or their intermediates: a certificate listed is refused; a CRL past "
                    + "its nextUpdate refuses every certificate of its issuer until a current one is applied."),
            .init(
                "trustDomain",
                .string(
                    maxLength: 255,
                    pattern: (regex: "^[a-z0-9._-]+$", meaning: "a SPIFFE trust domain (lower-case, no scheme)")),
                "When set, the leaf must carry exactly one SPIFFE ID (URI SAN), in this trust domain."),
            .init(
                "maxChainLength", .integer(minimum: 1, maximum: 8), default: 4,
                "Most certificates in a chain, leaf and root included."),
            .init(
                "clockSkewSeconds", .integer(minimum: 0, maximum: 300), default: 30,
                "Tolerance for the leaf's validity period."),
        ])

    package var caCertificates: String
    package var crls: [String]?
    package var trustDomain: String?
    package var maxChainLength: Int
    package var clockSkewSeconds: Int

    func admitted() throws -> Self {
        let roots: [Certificate]
        do {
            roots = try Self.certificates(caCertificates)
        } catch {
            throw ProblemDetails.invalidField(
                "spec.caCertificates", "spec.caCertificates is not PEM CERTIFICATE blocks: \(error)")
        }
        guard !roots.isEmpty, roots.count <= 64 else {
            throw ProblemDetails.invalidField(
                "spec.caCertificates", "spec.caCertificates must hold 1 to 64 certificates")
        }
        if let index = roots.firstIndex(where: { $0.extensions.basicConstraintsIfReadable.map(Self.isCA) != true }) {
            throw ProblemDetails.invalidField(
                "spec.caCertificates",
                "certificate \(index + 1) of spec.caCertificates (\(roots[index].subject)) is not a CA certificate")
        }
        for (index, pem) in (crls ?? []).enumerated() {
            do {
                guard !(try CertificateRevocationList.parse(pem: pem)).isEmpty else {
                    throw CertificateRevocationList.Malformed(description: "no X509 CRL block")
                }
            } catch {
                throw ProblemDetails.invalidField(
                    "spec.crls[\(index)]", "spec.crls[\(index)] is not a usable CRL: \(error)")
            }
        }
        return self
    }

    static func certificates(_ pem: String) throws -> [Certificate] {
        try PEMDocument.parseMultiple(pemString: pem).map { try Certificate(pemDocument: $0) }
    }

    static func isCA(_ constraints: BasicConstraints) -> Bool {
        if case .isCertificateAuthority = constraints { return true }
        return false
    }
}

/// An `x509` trust provider made ready: roots parsed, CRLs parsed and matched to the roots that signed them.
package struct X509Authority: Sendable {
    let roots: [Certificate]
    let revocationLists: [CertificateRevocationList]
    let trustDomain: String?
    let maxChainLength: Int
    let clockSkew: TimeInterval

    init(_ spec: X509TrustSpec) {
        // Admission checked both; unreadable ones (impossible) trust nothing and revoke nothing.
        roots = (try? X509TrustSpec.certificates(spec.caCertificates)) ?? []
        revocationLists = (spec.crls ?? []).flatMap { (try? CertificateRevocationList.parse(pem: $0)) ?? [] }
        trustDomain = spec.trustDomain
        maxChainLength = spec.maxChainLength
        clockSkew = TimeInterval(spec.clockSkewSeconds)
    }
}
