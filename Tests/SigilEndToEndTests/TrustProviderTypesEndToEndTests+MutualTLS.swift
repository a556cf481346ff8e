import Foundation
import SigilClient
import SigilTestSupport
import Testing

/// The trust-provider suite's mutual-TLS step: the workload sends plain HTTP; the edge originates TLS to an HTTPS API
/// that requires a client certificate (Python's ssl module, trusting only the tenant's CA bundle Sigil serves),
/// presenting the X.509-SVID sigil-issue minted for it.
extension TrustProviderTypesEndToEndTests {
    func mutualTLS(_ constellation: LocalConstellation) async throws {
        let admin = constellation.admin
        let issueURL = try admin.setting("SIGIL_ISSUE_URL")
        let tenant = constellation.settings["SIGIL_TENANT"] ?? "default"
        let (bundleStatus, bundle, _) = try await admin.send(.GET, "\(issueURL)/tenants/\(tenant)/x509-bundle.pem")
        #expect(bundleStatus == 200)
        let pki = try DemoPKI()
        let server = try pki.server()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-mtls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            "chain.pem": server.chainPEM, "key.pem": server.keyPEM,
            "clients.pem": String(decoding: bundle, as: UTF8.self),
        ]
        for (name, content) in files {
            try content.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        try await PythonPeer.with(
            "mtls_upstream.py",
            ["chain.pem", "key.pem", "clients.pem"].map {
                directory.appendingPathComponent($0).path
            }
        ) { ports in
            let port = ports[0]
            let applied = try await admin.apply(
                [
                    .init(
                        kind: .credentialProvider, name: "deployer-svid",
                        spec: ["type": "x509", "trustDomain": "acme.test", "ttlSeconds": 600])
                ]
                    + deployerRoute(
                        "mtls-api", port: port, prefix: "/v1", provider: "deployer-svid", scheme: "https",
                        ca: pki.rootPEM)
                    // The upstream's certificate is not from this CA: the edge refuses to talk to it.
                    + deployerRoute(
                        "mtls-untrusted", port: port, prefix: "/untrusted", provider: "deployer-svid",
                        scheme: "https", ca: try DemoPKI().rootPEM))
            #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")
            let answer = try await AdminClient.waitFor("the client certificate to be accepted", within: .seconds(20)) {
                let answer = try await ForwardProxyRequest.get(
                    "http://127.0.0.1:\(port)/v1/whoami", proxyHost: "127.0.0.1", proxyPort: 7490)
                return answer.status == 200 ? answer : nil
            }
            #expect(answer.body.contains(#""spiffeID": "spiffe://acme.test/deployer""#), "\(answer.body)")
            #expect(answer.body.contains(#""subject": "deployer""#), "\(answer.body)")
            let untrusted = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/untrusted", proxyHost: "127.0.0.1", proxyPort: 7490)
            #expect(untrusted.status == 502 && untrusted.body.contains("upstream-tls-failed"), "\(untrusted.body)")
            #expect(untrusted.body.contains("does not chain to a trusted CA"), "\(untrusted.body)")
        }
    }
}
