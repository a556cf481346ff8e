import Foundation
import SigilEvents
import SigilService
import X509

/// Type `aws-instance-identity`: EC2 instances, by the instance identity document the instance metadata service
/// serves and its `signature` (SHA-256 with RSA, by the region's AWS certificate, which the provider pins).
package struct AWSInstanceIdentityTrustSpec: Codable, Sendable, Equatable {
    static let type = "aws-instance-identity"
    static let schema = SpecSchema.ObjectSchema(
        "EC2 instances, by their signed instance identity document.",
        [
            .init("type", .string(choices: [type]), required: true, "The trust provider's type."),
            .init(
                "certificates", SpecSchema.pem, required: true,
                "PEM: AWS's public certificates for the regions used (the RSA certificates the EC2 documentation "
                    + "publishes for the instance identity `signature`)."),
            .init(
                "accounts",
                .array(
                    of: .string(maxLength: 12, pattern: (regex: "^[0-9]{12}$", meaning: "a 12-digit AWS account id")),
                    minItems: 1, maxItems: 64), required: true,
                "The AWS accounts whose instances are accepted."),
            .init(
                "regions",
                .array(
                    of: .string(
                        maxLength: 32, pattern: (regex: "^[a-z]{2}(-[a-z]+)+-[0-9]+$", meaning: "an AWS region")),
                    minItems: 1, maxItems: 64),
                "Only instances in these regions (default: any)."),
        ])

    package var certificates: String
    package var accounts: [String]
    package var regions: [String]?

    func admitted() throws -> Self {
        let parsed: [Certificate]
        do {
            parsed = try X509TrustSpec.certificates(certificates)
        } catch {
            throw ProblemDetails.invalidField("spec.certificates", "spec.certificates is not PEM CERTIFICATE blocks")
        }
        guard (1...64).contains(parsed.count) else {
            throw ProblemDetails.invalidField("spec.certificates", "spec.certificates must hold 1 to 64 certificates")
        }
        return self
    }
}

/// An `aws-instance-identity` provider made ready: the pinned keys parsed once.
package struct AWSIdentityAuthority: Sendable {
    let keys: [Certificate.PublicKey]
    let accounts: Set<String>
    let regions: Set<String>?

    init(_ spec: AWSInstanceIdentityTrustSpec) {
        // Admission checked them; unreadable ones (impossible) trust nothing.
        keys = ((try? X509TrustSpec.certificates(spec.certificates)) ?? []).map(\.publicKey)
        accounts = Set(spec.accounts)
        regions = spec.regions.map(Set.init)
    }
}

/// Verifies an instance identity document: signed by a pinned AWS certificate, of an accepted account and region.
/// The document is the same for the instance's whole life, so anything on the instance that can read the metadata
/// service can present it: it proves "on this instance", not "this process" (combine with `all` for more).
package struct AWSInstanceIdentityVerifier: Sendable {
    static let maximumDocumentBytes = 8 * 1024

    struct Document: Decodable {
        let accountId: String?
        let region: String?
        let instanceId: String?
        let imageId: String?
        let instanceType: String?
        let availabilityZone: String?
        let architecture: String?
    }

    package init() {}

    package func verify(
        _ evidence: AWSInstanceIdentityEvidence, providers: [TrustProvider]
    ) throws(AttestationRefusal) -> VerifiedEvidence {
        let authorities = providers.compactMap { provider -> (TrustProvider, AWSIdentityAuthority)? in
            if case .awsInstanceIdentity(let authority) = provider.verification { return (provider, authority) }
            return nil
        }
        guard !authorities.isEmpty else {
            throw .unknownIssuer(detail: "no trust provider of this tenant is of type aws-instance-identity")
        }
        guard evidence.document.bytes.count <= Self.maximumDocumentBytes, evidence.signature.bytes.count <= 1024 else {
            throw .evidenceMalformed("the instance identity document is larger than 8 KiB or its signature 1 KiB")
        }
        let signed = authorities.filter { _, authority in
            authority.keys.contains {
                $0.isValidSignature(
                    evidence.signature.bytes, for: evidence.document.bytes, signatureAlgorithm: .sha256WithRSAEncryption
                )
            }
        }
        guard let (provider, authority) = signed.first else { throw .signatureInvalid }
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(evidence.document.bytes)) else {
            throw .evidenceMalformed("the instance identity document is not JSON")
        }
        guard let account = document.accountId else { throw .claimMissing("accountId") }
        guard let region = document.region else { throw .claimMissing("region") }
        guard let instance = document.instanceId else { throw .claimMissing("instanceId") }
        guard authority.accounts.contains(account) else {
            throw .claimMismatch(
                "accountId", expected: "one of \(authority.accounts.sorted())", actual: bounded(account))
        }
        if let regions = authority.regions, !regions.contains(region) {
            throw .claimMismatch("region", expected: "one of \(regions.sorted())", actual: bounded(region))
        }
        var attributes = WorkloadAttributes()
        attributes.set("accountId", account)
        attributes.set("region", region)
        attributes.set("instanceId", instance)
        for (name, value) in [
            ("imageId", document.imageId), ("instanceType", document.instanceType),
            ("availabilityZone", document.availabilityZone), ("architecture", document.architecture),
        ] {
            if let value { attributes.set(name, value) }
        }
        return VerifiedEvidence(
            trustProvider: provider.name, type: provider.type, attributes: attributes,
            published: ["accountId", "region", "instanceId", "availabilityZone", "imageId"])
    }
}
