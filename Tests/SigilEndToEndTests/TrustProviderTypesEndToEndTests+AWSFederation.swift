import Foundation
import SigilClient
import SigilTestSupport
import Testing

/// The trust-provider suite's AWS step: a workload reaches an AWS-style API with no AWS secret anywhere. sigil-issue
/// mints an OIDC token for it and exchanges it at STS (moto, which here first verifies the token against the
/// tenant's JWKS as AWS does for an IAM OIDC provider); the edge signs each request with the temporary credentials,
/// and the API recomputes every signature with botocore (`Peers/aws_peer.py`).
extension TrustProviderTypesEndToEndTests {
    func awsFederation(_ constellation: LocalConstellation) async throws {
        let admin = constellation.admin
        let issuer = try admin.setting("SIGIL_ISSUE_URL")
        try await PythonPeer.with("aws_peer.py", ["123456789012", issuer, "sts.amazonaws.com"]) { ports in
            let (stsPort, apiPort) = (ports[0], ports[1])
            func provider(_ name: String, audience: String) -> ResourceDocument {
                .init(
                    kind: .credentialProvider, name: name,
                    spec: [
                        "type": "aws-sts-web-identity", "roleARN": "arn:aws:iam::123456789012:role/sigil-deployer",
                        "region": "us-east-1", "service": "execute-api", "durationSeconds": 900,
                        "audience": .string(audience), "stsEndpoint": .string("http://127.0.0.1:\(stsPort)/"),
                    ])
            }
            let applied = try await admin.apply(
                [provider("aws-api", audience: "sts.amazonaws.com"), provider("aws-wrong-audience", audience: "other")]
                    + deployerRoute("aws-items", port: apiPort, prefix: "/v1", provider: "aws-api")
                    + deployerRoute("aws-refused", port: apiPort, prefix: "/refused", provider: "aws-wrong-audience"))
            #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")

            let url = "http://127.0.0.1:\(apiPort)/v1/items%20list?b=2&a=1"
            let first = try await AdminClient.waitFor("a signed request to be verified", within: .seconds(20)) {
                let answer = try await ForwardProxyRequest.get(url, proxyHost: "127.0.0.1", proxyPort: 7490)
                return answer.status == 200 ? answer : nil
            }
            #expect(first.body.contains(#""verified": true"#), "\(first.body)")
            #expect(first.body.contains("assumed-role/sigil-deployer/sigil-deployer"), "\(first.body)")
            // A body is hashed into the signature; the same credentials serve every request until they near expiry.
            for body in ["{\"id\": 1}", String(repeating: "x", count: 200_000)] {
                let posted = try await ForwardProxyRequest.send(
                    .POST, "http://127.0.0.1:\(apiPort)/v1/items", body: body, proxyHost: "127.0.0.1",
                    proxyPort: 7490, headers: [("Content-Type", "application/json")])
                #expect(posted.status == 200, "\(posted.body)")
                #expect(posted.body.contains(#""bodyBytes": \#(body.utf8.count)"#), "\(posted.body)")
            }
            let stats = try await admin.send(.GET, "http://127.0.0.1:\(stsPort)/__stats")
            let assumed = try JSONSerialization.jsonObject(with: stats.1) as? [String: Any] ?? [:]
            #expect(assumed["assumed"] as? Int == 1, "one STS call for every request: \(assumed)")
            let last = assumed["last"] as? [String: Any] ?? [:]
            #expect(last["sub"] as? String == "deployer" && last["aud"] as? String == "sts.amazonaws.com")
            #expect(last["sessionName"] as? String == "sigil-deployer" && last["duration"] as? Int == 900)

            // STS refuses a token minted for another audience: the workload is told why, in STS's words.
            let refused = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(apiPort)/refused", proxyHost: "127.0.0.1", proxyPort: 7490)
            #expect(refused.status == 403, "\(refused.body)")
            #expect(refused.body.contains("sts-refused") && refused.body.contains("InvalidIdentityToken"))
        }
    }
}
