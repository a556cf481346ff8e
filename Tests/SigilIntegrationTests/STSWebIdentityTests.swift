import Foundation
import SigilEvents
import SigilTestSupport
import Testing

@testable import CredentialIssuance

/// The `aws-sts-web-identity` provider's STS client against moto's STS (`Peers/aws_peer.py`, which verifies the web
/// identity token first, as AWS does): its refusals and an STS that does not answer. (A token STS accepts, and the
/// edge signing with the session, are in the end-to-end suite, where sigil-issue serves the JWKS STS reads.)
@Suite("AWS STS AssumeRoleWithWebIdentity against moto")
struct STSWebIdentityTests {
    func spec(_ endpoint: String) -> AWSWebIdentityCredential {
        AWSWebIdentityCredential(
            roleARN: "arn:aws:iam::123456789012:role/reader", region: "us-east-1", service: "s3",
            durationSeconds: 900, audience: "sts.amazonaws.com", subjectClaim: nil, stsEndpoint: endpoint,
            payload: .signed)
    }

    @Test("a token STS does not accept is refused in STS's words; the token never appears")
    func refusedToken() async throws {
        try await PythonPeer.with("aws_peer.py", ["123456789012", "https://issuer.invalid", "sts.amazonaws.com"]) {
            ports in
            let source = STSWebIdentitySource()
            let token = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2F0dGFja2VyLmV4YW1wbGUifQ.c2ln"
            let refusal = await #expect(throws: RefusalReason.self) {
                try await source.session(
                    for: spec("http://127.0.0.1:\(ports[0])/"), sessionName: "sigil-billing", cacheKey: "a"
                ) { token }
            }
            #expect(refusal?.code == "sts-refused")
            #expect(refusal?.detail.contains("(400 InvalidIdentityToken)") == true, "\(refusal?.detail ?? "")")
            #expect(refusal?.detail.contains("arn:aws:iam::123456789012:role/reader") == true)
            #expect(refusal?.detail.contains(token) == false)
            #expect(source.cached == 0, "a refusal is not kept")
        }
    }

    @Test("an STS that does not answer is sts-unavailable")
    func unavailable() async throws {
        let refusal = await #expect(throws: RefusalReason.self) {
            try await STSWebIdentitySource().session(
                for: spec("http://127.0.0.1:1/"), sessionName: "sigil-billing", cacheKey: "a"
            ) { "token" }
        }
        #expect(refusal?.code == "sts-unavailable")
    }

    @Test("session names keep to STS's characters and length")
    func sessionNames() {
        #expect(STSWebIdentitySource.sessionName(clientWorkload: "billing") == "sigil-billing")
        #expect(STSWebIdentitySource.sessionName(clientWorkload: "team/billing job") == "sigil-team-billing-job")
        #expect(STSWebIdentitySource.sessionName(clientWorkload: String(repeating: "a", count: 100)).count == 64)
    }

    @Test("STS answers are read for what matters; an entity or a malformed document yields nothing")
    func answers() {
        let success = STSAnswer(
            Data(
                """
                <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
                <AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIA1</AccessKeyId>
                <SecretAccessKey>s</SecretAccessKey><SessionToken>t</SessionToken>
                <Expiration>2026-11-26T14:43:00.158392Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult>
                </AssumeRoleWithWebIdentityResponse>
                """.utf8))
        #expect(success["AccessKeyId"] == "ASIA1" && success["SessionToken"] == "t")
        #expect(success["Expiration"].flatMap(STSWebIdentitySource.date) != nil)
        let external = STSAnswer(
            Data(
                """
                <?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>
                <r><Code>&x;</Code></r>
                """.utf8))
        #expect(external["Code"]?.contains("root") != true)
        #expect(STSAnswer(Data("not xml".utf8))["Code"] == nil)
    }
}
