import Crypto
import Foundation
import SigilClient
import SigilCrypto
import SigilEvents
import SigilService
import Testing
import X509

@testable import IdentityAttestation
@testable import SigilAttestation

@Suite("x509 trust providers: chains to the CAs, proof of the key for this request, CRLs, SPIFFE IDs")
struct X509TrustProviderTests {
    let verifier = X509Verifier()

    func provider(
        _ pki: DemoPKI, name: String = "spiffe", crls: [String]? = nil, trustDomain: String? = "acme.test"
    ) async throws -> TrustProvider {
        var document: [String: JSONValue] = ["type": "x509", "caCertificates": .string(pki.rootPEM)]
        if let crls { document["crls"] = .array(crls.map { .string($0) }) }
        if let trustDomain { document["trustDomain"] = .string(trustDomain) }
        let context = try await ResourceBench.context(.identityAttestation)
        return TrustProvider(
            try await ResourceBench.admit(TrustProviderSpec.self, name, .object(document), context: context))
    }

    /// The evidence an edge sends for `workload` in request `requestID` (signed with `signer`'s key, by default its own).
    func evidence(
        _ workload: DemoPKI.Workload, requestID: String = "request-1", signer: P256.Signing.PrivateKey? = nil,
        chain: [Certificate]? = nil, pki: DemoPKI
    ) throws -> X509Evidence {
        let proof = try ProofOfPossession.sign(
            X509Evidence.proofMessage(tenant: "acme", requestID: requestID),
            with: Certificate.PrivateKey(signer ?? workload.key), of: workload.certificate)
        let certificates = chain ?? [workload.certificate, pki.intermediate]
        return X509Evidence(
            chain: try certificates.map { try $0.serializeAsPEM().derBytes }, proof: proof)
    }

    @Test("an X.509-SVID chaining to the root verifies; its SPIFFE ID is an attribute")
    func accepted() async throws {
        let pki = try DemoPKI()
        let workload = try pki.workload(path: "/ns/payments/sa/api")
        let verified = try await verifier.verify(
            try evidence(workload, pki: pki), tenant: "acme", requestID: "request-1",
            providers: [try await provider(pki)])
        #expect(verified.trustProvider == "spiffe")
        #expect(verified.attributes.first("spiffeID") == "spiffe://acme.test/ns/payments/sa/api")
        #expect(verified.published["spiffeID"] == "spiffe://acme.test/ns/payments/sa/api")
        #expect(verified.published["commonName"] == "api")
    }

    @Test("each refusal class of x509 evidence has its reason")
    func refusals() async throws {
        let pki = try DemoPKI()
        let other = try DemoPKI()
        let workload = try pki.workload(path: "/ns/payments/sa/api")
        let provider = try await provider(pki)
        let expired = try pki.workload(
            path: "/ns/payments/sa/old", notValidBefore: Date() - 7200, notValidAfter: Date() - 3600)
        let future = try pki.workload(path: "/ns/payments/sa/new", notValidBefore: Date() + 3600)
        let foreign = try other.workload(path: "/ns/payments/sa/api")
        let otherDomain = try pki.workload(path: "/ns/payments/sa/api", trustDomain: "evil.test")
        let cases: [(String, X509Evidence, String)] = [
            ("proof for another request", try evidence(workload, requestID: "request-0", pki: pki), "proof-invalid"),
            (
                "proof by another key", try evidence(workload, signer: P256.Signing.PrivateKey(), pki: pki),
                "proof-invalid"
            ),
            ("expired leaf", try evidence(expired, pki: pki), "certificate-expired"),
            ("leaf not valid yet", try evidence(future, pki: pki), "certificate-not-yet-valid"),
            (
                "another CA", try evidence(foreign, chain: [foreign.certificate, other.intermediate], pki: other),
                "certificate-untrusted"
            ),
            (
                "intermediate missing", try evidence(workload, chain: [workload.certificate], pki: pki),
                "certificate-untrusted"
            ),
            (
                "a CA certificate as leaf",
                X509Evidence(chain: [try pki.intermediate.serializeAsPEM().derBytes], proof: []),
                "certificate-untrusted"
            ),
            ("SPIFFE ID of another trust domain", try evidence(otherDomain, pki: pki), "claim-mismatch"),
            ("garbage DER", X509Evidence(chain: [[0x30, 0x03, 0x02, 0x01]], proof: []), "malformed"),
            ("empty chain", X509Evidence(chain: [], proof: []), "malformed"),
        ]
        for (name, evidence, code) in cases {
            do {
                _ = try await verifier.verify(evidence, tenant: "acme", requestID: "request-1", providers: [provider])
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error.detail)")
            }
        }
    }

    @Test("a certificate on its issuer's CRL (made by openssl ca) is refused; a stale CRL refuses all of its issuer's")
    func revocation() async throws {
        let pki = try DemoPKI()
        let revoked = try pki.workload(path: "/ns/payments/sa/revoked")
        let kept = try pki.workload(path: "/ns/payments/sa/kept")
        let crl = try pki.revocationList(revoking: [revoked])
        let provider = try await provider(pki, crls: [crl])
        await #expect(throws: AttestationRefusal.certificateRevoked) {
            try await verifier.verify(
                try evidence(revoked, pki: pki), tenant: "acme", requestID: "request-1", providers: [provider])
        }
        #expect(
            try await verifier.verify(
                try evidence(kept, pki: pki), tenant: "acme", requestID: "request-1", providers: [provider]
            ).trustProvider == "spiffe")
        let stale = try await self.provider(pki, crls: [try pki.revocationList(revoking: [], nextUpdate: Date() - 60)])
        let staleEvidence = try evidence(kept, pki: pki)
        do {
            _ = try await verifier.verify(staleEvidence, tenant: "acme", requestID: "request-1", providers: [stale])
            Issue.record("a stale CRL was trusted")
        } catch {
            #expect(error.code == "crl-stale")
        }
    }

    @Test("admission refuses a non-CA root, a CRL that is not one, and a bad trust domain")
    func admission() async throws {
        let pki = try DemoPKI()
        let workload = try pki.workload(path: "/x")
        let context = try await ResourceBench.context(.identityAttestation)
        let cases: [(JSONValue, String)] = [
            (
                ["type": "x509", "caCertificates": .string(try workload.certificate.serializeAsPEM().pemString)],
                "spec.caCertificates"
            ),
            (["type": "x509", "caCertificates": "not pem"], "spec.caCertificates"),
            (["type": "x509", "caCertificates": .string(pki.rootPEM), "crls": [.string(pki.rootPEM)]], "spec.crls[0]"),
            (
                ["type": "x509", "caCertificates": .string(pki.rootPEM), "trustDomain": "spiffe://acme.test"],
                "spec.trustDomain"
            ),
        ]
        for (spec, field) in cases {
            do {
                _ = try await ResourceBench.admit(TrustProviderSpec.self, "p", spec, context: context)
                Issue.record("admitted \(field)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == field, "\(problem.detail)")
            }
        }
    }
}
