import Foundation
import NIOHTTP1
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's SigV4 signatures against botocore's (1.43, `SigV4Auth` / `S3SigV4Auth`) for the same requests, keys and
/// time: the expected values were computed by botocore and are the reference here; the end-to-end suite also has
/// botocore verify live requests through the edge.
@Suite("SigV4 signing matches botocore")
struct SigV4SignerTests {
    static let moment = Date(timeIntervalSince1970: 1_795_700_700)  // 2026-11-26T13:45:00Z

    func signer(_ service: String, signsPayload: Bool = true) -> SigV4Signer {
        SigV4Signer(
            credentials: AWSSigningCredentials(
                accessKeyID: "ASIAEXAMPLEKEY123456", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                sessionToken: "FQoGZXIvYXdzEXAMPLETOKEN/+=", region: "us-east-1", service: service,
                signsPayload: signsPayload))
    }

    func authorization(
        _ service: String, _ method: String, _ uri: String, _ headers: [(String, String)], body: String
    ) -> String {
        var fields = HTTPHeaders(headers)
        let signer = signer(service)
        let hash = signer.payloadHash(body.isEmpty ? [.end(nil)] : [.body(.init(string: body)), .end(nil)])
        signer.sign(method: method, uri: uri, headers: &fields, payloadHash: hash, at: Self.moment)
        return fields.first(name: "authorization") ?? ""
    }

    @Test(
        "signatures as botocore computes them",
        arguments: [
            (
                "execute-api", "POST", "/v1/items%20x?b=2&a=1",
                [("host", "api.example.com"), ("content-type", "application/json")], #"{"a":1}"#,
                "content-type;host;x-amz-date;x-amz-security-token",
                "e84b6c20fed22f053e463d4a8606fae0d78d4e91d8ace82d26433e7d8ea9f555"
            ),
            (
                "s3", "PUT", "/bucket/my%20key.txt",
                [("host", "s3.us-east-1.amazonaws.com"), ("x-amz-meta-color", "  blue   green ")], "hello",
                "host;x-amz-content-sha256;x-amz-date;x-amz-meta-color;x-amz-security-token",
                "de3f1ba90df6cf2cc163121540caca3aff9778bb2e13d58cb7f04afab572c6e5"
            ),
            (
                "s3", "GET", "/bucket?list-type=2&prefix=a%2Fb&acl", [("host", "s3.us-east-1.amazonaws.com")], "",
                "host;x-amz-content-sha256;x-amz-date;x-amz-security-token",
                "11c9508067a9205893b051e29216d48ee737f9ddc5f9784bf0f23a2efe452a76"
            ),
            (
                "execute-api", "GET", "/v1/./a/../b%2Fc", [("host", "api.example.com:8443")], "",
                "host;x-amz-date;x-amz-security-token",
                "c36531b65ea62d7525642a5d4f9d41a359719c47c7d0a0a0444fc6086398af4c"
            ),
        ])
    func matchesBotocore(
        _ service: String, _ method: String, _ uri: String, _ headers: [(String, String)], _ body: String,
        _ signedHeaders: String, _ signature: String
    ) {
        #expect(
            authorization(service, method, uri, headers, body: body)
                == "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY123456/20261126/us-east-1/\(service)/aws4_request, "
                + "SignedHeaders=\(signedHeaders), Signature=\(signature)")
    }

    @Test("the workload's own signature headers are replaced; its other headers pass; the body's hash is signed")
    func forwarding() throws {
        let credential = HeldCredential(
            requestID: "r", injection: .sigV4(signer("s3").credentials), obtainedAt: Date(),
            expiresAt: Date().addingTimeInterval(60))
        #expect(credential.isSendable)
        let head = HTTPRequestHead(
            version: .http1_1, method: .PUT, uri: "http://bucket.s3.amazonaws.com/k",
            headers: [
                "Authorization": "AWS4-HMAC-SHA256 Credential=AKIAOTHER/...", "X-Amz-Date": "20200101T000000Z",
                "X-Amz-Security-Token": "stolen", "x-amz-content-sha256": "UNSIGNED-PAYLOAD",
                "X-Amz-Meta-Owner": "team-a", "Content-Length": "5",
            ])
        let hash = signer("s3").payloadHash([.body(.init(string: "hello")), .end(nil)])
        let forwarded = ForwardedHeaders.request(
            head, authority: "bucket.s3.amazonaws.com", path: "/k", credential: credential, payloadHash: hash,
            now: Self.moment)
        #expect(forwarded.headers["authorization"].count == 1)
        #expect(forwarded.headers["authorization"].first?.contains("Credential=ASIAEXAMPLEKEY123456/") == true)
        #expect(forwarded.headers["x-amz-date"] == ["20261126T134500Z"])
        #expect(forwarded.headers["x-amz-security-token"] == ["FQoGZXIvYXdzEXAMPLETOKEN/+="])
        #expect(
            forwarded.headers["x-amz-content-sha256"]
                == ["2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"])
        #expect(forwarded.headers["x-amz-meta-owner"] == ["team-a"])
        #expect(forwarded.headers["authorization"].first?.contains("x-amz-meta-owner") == true)
        #expect(signer("s3", signsPayload: false).payloadHash([.end(nil)]) == "UNSIGNED-PAYLOAD")
    }

    @Test("credentials that could not be sent as they are are refused on arrival")
    func unsendable() {
        func held(_ key: String, token: String?) -> HeldCredential {
            HeldCredential(
                requestID: "r",
                injection: .sigV4(
                    AWSSigningCredentials(
                        accessKeyID: key, secretAccessKey: "s", sessionToken: token, region: "us-east-1",
                        service: "s3", signsPayload: true)), obtainedAt: Date(), expiresAt: Date())
        }
        #expect(held("ASIA1", token: "t").isSendable)
        #expect(!held("ASIA1/x", token: "t").isSendable)
        #expect(!held("ASIA1", token: "t\r\nX-Evil: 1").isSendable)
        #expect(!held("", token: nil).isSendable)
    }
}
