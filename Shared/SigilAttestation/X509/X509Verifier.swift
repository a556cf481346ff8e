import Foundation
import SigilCrypto
import SigilEvents
import SwiftASN1
import X509

/// Verifies a certificate chain and its proof of possession against the tenant's `x509` trust providers: the leaf
/// within its validity, not a CA, its key's signature over this request's proof message; the chain built and checked
/// by swift-certificates (RFC 5280: signatures, validity, basic and name constraints) to one of a provider's roots;
/// no certificate of the chain on a current CRL of its issuer; the SPIFFE ID in the provider's trust domain.
package struct X509Verifier: Sendable {
    static let maximumChain = 8
    static let maximumCertificateBytes = 16 * 1024

    package init() {}

    package func verify(
        _ evidence: X509Evidence, tenant: String, requestID: String, providers: [TrustProvider], now: Date = Date()
    ) async throws(AttestationRefusal) -> VerifiedEvidence {
        let authorities = providers.compactMap { provider in provider.x509Authority.map { (provider, $0) } }
        guard !authorities.isEmpty else {
            throw .unknownIssuer(detail: "no trust provider of this tenant is of type x509")
        }
        guard (1...Self.maximumChain).contains(evidence.chain.count),
            evidence.chain.allSatisfy({ $0.bytes.count <= Self.maximumCertificateBytes })
        else {
            throw .evidenceMalformed(
                "the certificate chain must hold 1 to \(Self.maximumChain) certificates of at most 16 KiB")
        }
        let chain: [Certificate]
        do {
            chain = try evidence.chain.map { try Certificate(derEncoded: $0.bytes) }
        } catch {
            throw .evidenceMalformed("a certificate of the chain is not DER X.509")
        }
        let leaf = chain[0]
        if let constraints = leaf.extensions.basicConstraintsIfReadable, X509TrustSpec.isCA(constraints) {
            throw .certificateUntrusted("the leaf certificate is a CA certificate; a workload presents its own")
        }
        guard
            ProofOfPossession.isValid(
                evidence.proof.bytes, of: X509Evidence.proofMessage(tenant: tenant, requestID: requestID),
                by: leaf.publicKey)
        else { throw .proofInvalid }

        var firstRefusal: AttestationRefusal?
        for (provider, authority) in authorities {
            do {
                return try await verify(chain, provider: provider, authority: authority, now: now)
            } catch {
                firstRefusal = firstRefusal ?? error
            }
        }
        throw firstRefusal ?? .certificateUntrusted("the chain ends at no configured CA")
    }

    private func verify(
        _ chain: [Certificate], provider: TrustProvider, authority: X509Authority, now: Date
    ) async throws(AttestationRefusal) -> VerifiedEvidence {
        let leaf = chain[0]
        guard leaf.notValidAfter > now.addingTimeInterval(-authority.clockSkew) else {
            throw .certificateExpired
        }
        guard leaf.notValidBefore <= now.addingTimeInterval(authority.clockSkew) else {
            throw .certificateNotYetValid
        }
        var verifier = Verifier(rootCertificates: CertificateStore(authority.roots)) {
            RFC5280Policy()
        }
        let validated: [Certificate]
        switch await verifier.validate(leaf: leaf, intermediates: CertificateStore(chain.dropFirst())) {
        case .validCertificate(let path): validated = Array(path)
        case .couldNotValidate:
            throw .certificateUntrusted("the chain does not validate to a CA of trust provider \(provider.name)")
        }
        guard validated.count <= authority.maxChainLength else {
            throw .certificateUntrusted(
                "the chain has \(validated.count) certificates; trust provider \(provider.name) allows "
                    + "\(authority.maxChainLength)")
        }
        // Each certificate against the CRLs its issuer signed (the next one up the validated path).
        for (certificate, issuer) in zip(validated, validated.dropFirst()) {
            for list in authority.revocationLists where list.isSigned(by: issuer) {
                if let nextUpdate = list.nextUpdate, nextUpdate < now {
                    throw .revocationListStale(issuer: "\(issuer.subject)")
                }
                if list.revokes(certificate) { throw .certificateRevoked }
            }
        }
        var attributes = WorkloadAttributes()
        let names: [GeneralName] = ((try? leaf.extensions.subjectAlternativeNames) ?? nil).map(Array.init) ?? []
        let uris = names.compactMap { name -> String? in
            if case .uniformResourceIdentifier(let uri) = name { return uri }
            return nil
        }
        let spiffeIDs = uris.filter { $0.hasPrefix("spiffe://") }
        for uri in uris { attributes.add("uri", uri) }
        for name in names {
            if case .dnsName(let dns) = name { attributes.add("dnsName", dns) }
        }
        if let commonName = leaf.subject.commonName { attributes.set("commonName", commonName) }
        attributes.set("serialNumber", leaf.serialNumber.bytes.map { String(format: "%02x", $0) }.joined())
        attributes.set("issuer", "\(leaf.issuer)")
        if spiffeIDs.count == 1 { attributes.set("spiffeID", spiffeIDs[0]) }
        if let trustDomain = authority.trustDomain {
            // X.509-SVID (SPIFFE): exactly one URI SAN, a SPIFFE ID, in the trust domain.
            guard uris.count == 1, let id = spiffeIDs.first else {
                throw .claimMissing("a single SPIFFE ID (URI SAN) in the leaf certificate")
            }
            guard let host = URL(string: id)?.host, host == trustDomain else {
                throw .claimMismatch("spiffeID", expected: "spiffe://\(trustDomain)/…", actual: bounded(id))
            }
        }
        return VerifiedEvidence(
            trustProvider: provider.name, type: provider.type, attributes: attributes,
            published: ["spiffeID", "commonName", "dnsName", "serialNumber", "issuer"])
    }
}

extension Certificate.Extensions {
    /// Basic constraints, or nil when absent or unreadable (an unreadable one fails chain validation anyway).
    var basicConstraintsIfReadable: BasicConstraints? { (try? basicConstraints) ?? nil }
}

extension DistinguishedName {
    var commonName: String? {
        for rdn in self {
            for attribute in rdn where attribute.type == ASN1ObjectIdentifier.RDNAttributeType.commonName {
                return "\(attribute.value)"
            }
        }
        return nil
    }
}
