import Foundation
import SigilClient
import SigilEvents
import SigilService
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

@Suite("aws-instance-identity trust providers: the signed document, its account and region")
struct AWSInstanceIdentityTests {
    func provider(_ aws: DemoAWSIdentity, regions: [String]? = nil) async throws -> TrustProvider {
        var document: [String: JSONValue] = [
            "type": "aws-instance-identity", "certificates": .string(aws.certificatePEM), "accounts": ["123456789012"],
        ]
        if let regions { document["regions"] = .array(regions.map { .string($0) }) }
        let context = try await ResourceBench.context(.identityAttestation)
        return TrustProvider(
            try await ResourceBench.admit(TrustProviderSpec.self, "ec2", .object(document), context: context))
    }

    func evidence(_ document: String, signature: String) -> AWSInstanceIdentityEvidence {
        AWSInstanceIdentityEvidence(
            document: Array(document.utf8), signature: Array(Data(base64Encoded: signature) ?? Data()))
    }

    @Test("a document signed by the pinned certificate verifies to its account, region and instance")
    func accepted() async throws {
        let aws = try DemoAWSIdentity()
        let document = DemoAWSIdentity.document()
        let verified = try AWSInstanceIdentityVerifier().verify(
            evidence(document, signature: try aws.signature(of: document)), providers: [try await provider(aws)])
        #expect(verified.published["accountId"] == "123456789012")
        #expect(verified.published["region"] == "eu-west-1")
        #expect(verified.published["instanceId"] == "i-0abc123def4567890")
        #expect(verified.attributes.first("instanceType") == "t3.micro")
    }

    @Test("a forged, altered, foreign-account or other-region document is refused with its reason")
    func refusals() async throws {
        let aws = try DemoAWSIdentity()
        let impostor = try DemoAWSIdentity()
        let provider = try await provider(aws, regions: ["eu-west-1"])
        let document = DemoAWSIdentity.document()
        let signature = try aws.signature(of: document)
        let foreign = DemoAWSIdentity.document(account: "999999999999")
        let elsewhere = DemoAWSIdentity.document(region: "us-east-1")
        let cases: [(String, AWSInstanceIdentityEvidence, String)] = [
            (
                "signed by another key", evidence(document, signature: try impostor.signature(of: document)),
                "signature-invalid"
            ),
            (
                "altered after signing",
                evidence(document.replacingOccurrences(of: "t3.micro", with: "t3.large"), signature: signature),
                "signature-invalid"
            ),
            ("another account", evidence(foreign, signature: try aws.signature(of: foreign)), "claim-mismatch"),
            ("another region", evidence(elsewhere, signature: try aws.signature(of: elsewhere)), "claim-mismatch"),
            ("not JSON", evidence("garbage", signature: try aws.signature(of: "garbage")), "malformed"),
        ]
        for (name, evidence, code) in cases {
            do {
                _ = try AWSInstanceIdentityVerifier().verify(evidence, providers: [provider])
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error.detail)")
            }
        }
    }
}
