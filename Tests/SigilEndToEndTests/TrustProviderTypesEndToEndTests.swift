import Foundation
import SigilClient
import SigilEvents
import SigilTestSupport
import Testing

/// Every trust provider type through a real edge: the constellation as processes (`sigil dev up`), one more edge per
/// kind of evidence (`sigil dev edge`), each reaching the protected API with the credential its policy grants — and
/// the refusals an attacker meets (a revoked certificate, a join token used twice) as the workload sees them.
@Suite("End to end: each trust provider type, composed, through an edge", .serialized)
struct TrustProviderTypesEndToEndTests {
    @Test("Kubernetes, GitHub, GitLab, OIDC, X.509, join token and EC2 evidence each reach the API; all-of composition")
    func eachType() async throws {
        // Two attestation replicas: a join token presented twice may reach either, and is taken once.
        let constellation = try await LocalConstellation.start(".sigil/e2e-attest", replicas: "attest=2")
        try await constellation.withUpstream { upstream in
            try await exercise(constellation, upstream: upstream)
        }
        _ = try await constellation.stop()
    }

    func exercise(_ constellation: LocalConstellation, upstream: DemoUpstream) async throws {
        let admin = constellation.admin
        let port = try await AdminClient.waitFor("the upstream to listen") { upstream.port }
        let evidence = "\(constellation.stateDirectory)/evidence"
        try FileManager.default.createDirectory(atPath: evidence, withIntermediateDirectories: true)
        func write(_ name: String, _ text: String) throws -> String {
            let path = "\(evidence)/\(name)"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let identity = DemoIdentity()
        let jwks = try JSONValue(json: try identity.jwks())
        let pki = try DemoPKI()
        let payments = try pki.workload(path: "/ns/payments/sa/api")
        let mfa = try pki.workload(path: "/ns/mfa/sa/api")
        let revoked = try pki.workload(path: "/ns/payments/sa/stolen")
        let aws = try DemoAWSIdentity()

        var documents: [ResourceDocument] = [
            .init(
                kind: .serverWorkload, name: "api",
                spec: ["scheme": "http", "host": "127.0.0.1", "port": .number(Double(port))]),
            .init(
                kind: .credentialProvider, name: "api-key",
                spec: ["type": "static", "inject": "header", "header": "X-API-Key", "value": .string(upstream.apiKey)]),
            .init(
                kind: .trustProvider, name: "cluster",
                spec: [
                    "type": "kubernetes-service-account", "issuer": .string(DemoIdentity.issuer),
                    "audiences": ["sigil"], "jwks": jwks,
                ]),
            .init(
                kind: .trustProvider, name: "github",
                spec: ["type": "github-actions", "audiences": ["sigil"], "jwks": jwks]),
            .init(
                kind: .trustProvider, name: "gitlab",
                spec: [
                    "type": "gitlab-ci", "issuer": "https://gitlab.example.com", "audiences": ["sigil"], "jwks": jwks,
                ]),
            .init(
                kind: .trustProvider, name: "corp-idp",
                spec: [
                    "type": "oidc-id-token", "issuer": "https://idp.example.com", "audiences": ["sigil"], "jwks": jwks,
                ]),
            .init(
                kind: .trustProvider, name: "spiffe",
                spec: [
                    "type": "x509", "caCertificates": .string(pki.rootPEM), "trustDomain": "acme.test",
                    "crls": [.string(try pki.revocationList(revoking: [revoked]))],
                ]),
            .init(kind: .trustProvider, name: "vms", spec: ["type": "join-token"]),
            .init(
                kind: .trustProvider, name: "ec2",
                spec: [
                    "type": "aws-instance-identity", "certificates": .string(aws.certificatePEM),
                    "accounts": ["123456789012"],
                ]),
        ]
        let clients: [(String, JSONValue, String)] = [
            (
                "deployer",
                [["trustProvider": "github", "claims": ["repository": "octo-org/*", "ref": "refs/heads/main"]]],
                "github"
            ),
            ("gitlab-job", [["trustProvider": "gitlab", "claims": ["project_path": "mygroup/*"]]], "gitlab"),
            ("idp-service", [["trustProvider": "corp-idp", "claims": ["groups": "oncall"]]], "corp-idp"),
            (
                "payments-api", [["trustProvider": "spiffe", "spiffeIDPrefix": "spiffe://acme.test/ns/payments"]],
                "spiffe"
            ),
            ("build-host", [["trustProvider": "vms", "claims": ["name": "build-*"]]], "vms"),
            (
                "ec2-worker", [["trustProvider": "ec2", "claims": ["accountId": "123456789012", "region": "eu-*"]]],
                "ec2"
            ),
        ]
        for (name, identifiers, provider) in clients {
            documents.append(.init(kind: .clientWorkload, name: name, spec: ["identifiers": identifiers]))
            documents.append(
                .init(
                    kind: .accessPolicy, name: "\(name)-api",
                    spec: [
                        "clientWorkload": .string(name), "serverWorkload": "api", "trustProvider": .string(provider),
                        "credentialProvider": "api-key",
                    ]))
        }
        // Two factors: the pod's service account and its SVID, both required by the workload and by the policy.
        documents.append(
            .init(
                kind: .clientWorkload, name: "payments-mfa",
                spec: [
                    "match": "all",
                    "identifiers": [
                        ["trustProvider": "cluster", "namespace": "payments", "serviceAccount": "api"],
                        ["trustProvider": "spiffe", "spiffeIDPrefix": "spiffe://acme.test/ns/mfa"],
                    ],
                ]))
        documents.append(
            .init(
                kind: .accessPolicy, name: "payments-mfa-api",
                spec: [
                    "clientWorkload": "payments-mfa", "serverWorkload": "api",
                    "trustProviders": ["all": ["cluster", "spiffe"]],
                    "credentialProvider": "api-key",
                ]))
        let applied = try await admin.apply(documents)
        #expect(applied.allSatisfy { $0.change == "created" }, "\(applied.map { "\($0.status) \($0.detail ?? "")" })")
        try await admin.waitUntilProjected(documents)
        try await admin.waitUntilEdgeKnows(serverWorkload: "api")

        let (status, created) = try await constellation.sigil([
            "token", "create", "--trust-provider", "vms", "--name", "build-host-7", "--ttl", "10m",
        ])
        try #require(status == 0, "sigil token create: \(created)")
        let joinToken = try #require(created.split(separator: "\n").last { $0.hasPrefix("sigil-join.") })
        let document = DemoAWSIdentity.document()

        // One edge per kind of evidence; the name, proxy port and files each presents.
        let edges: [(String, Int, [String])] = [
            (
                "gh", 7490,
                [
                    "--token-file",
                    try write("github.jwt", try await identity.token(claims: CITokenClaims.githubActions())),
                ]
            ),
            (
                "gl", 7491,
                [
                    "--token-file",
                    try write(
                        "gitlab.jwt",
                        try await identity.token(
                            claims: CITokenClaims.gitlabCI(issuer: "https://gitlab.example.com"))),
                ]
            ),
            (
                "idp", 7492,
                [
                    "--token-file",
                    try write(
                        "idp.jwt",
                        try await identity.token(claims: [
                            "iss": "https://idp.example.com", "sub": "svc-42", "aud": "sigil",
                            "groups": ["payments", "oncall"],
                            "iat": .number(Date().timeIntervalSince1970.rounded(.down)),
                            "nbf": .number(Date().timeIntervalSince1970.rounded(.down)),
                            "exp": .number(Date().timeIntervalSince1970.rounded(.down) + 600),
                        ])),
                ]
            ),
            (
                "svid", 7493,
                [
                    "--certificate", try write("payments.pem", payments.chainPEM), "--key",
                    try write("payments.key", payments.keyPEM),
                ]
            ),
            ("vm", 7494, ["--join-token-file", try write("join-token", String(joinToken))]),
            (
                "ec2", 7495,
                [
                    "--aws-document", try write("document.json", document),
                    "--aws-signature", try write("signature", try aws.signature(of: document)),
                ]
            ),
            (
                "mfa", 7496,
                [
                    "--token-file",
                    try write("k8s.jwt", try await identity.token(namespace: "payments", serviceAccount: "api")),
                    "--certificate", try write("mfa.pem", mfa.chainPEM), "--key", try write("mfa.key", mfa.keyPEM),
                ]
            ),
            (
                "stolen", 7497,
                [
                    "--certificate", try write("stolen.pem", revoked.chainPEM), "--key",
                    try write("stolen.key", revoked.keyPEM),
                ]
            ),
            ("vm-again", 7498, ["--join-token-file", "\(evidence)/join-token"]),
            ("half", 7499, ["--token-file", "\(evidence)/k8s.jwt"]),
        ]
        for (name, proxyPort, files) in edges {
            let (status, output) = try await constellation.sigil(
                [
                    "dev", "edge", "--state-directory", constellation.stateDirectory, "--name", name, "--proxy-port",
                    String(proxyPort),
                ] + files)
            try #require(status == 0, "sigil dev edge \(name): \(output)")
        }
        func request(_ proxyPort: Int) async throws -> ForwardProxyRequest.Response {
            try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(port)/reports", proxyHost: "127.0.0.1", proxyPort: proxyPort)
        }
        for (name, proxyPort, _) in edges.prefix(7) {
            let answer = try await request(proxyPort)
            #expect(answer.status == 200, "\(name): \(answer.body)")
        }
        #expect(upstream.authorized == 7)

        // A revoked certificate, a join token presented a second time, one factor of two: refused, the reason said.
        let refusals: [(Int, String)] = [
            (7497, "certificate-revoked"), (7498, "join-token-used"), (7499, "no-client-workload"),
        ]
        for (proxyPort, code) in refusals {
            let answer = try await request(proxyPort)
            #expect(answer.status == 403 && answer.body.contains(code), "\(proxyPort): \(answer.status) \(answer.body)")
        }
        #expect(upstream.authorized == 7)

        // The audit log has the two-factor attestation with both providers, and the join token's creation.
        let records = try await AdminClient.waitFor("the attestations in the audit log") {
            let records = try await admin.auditRecords(since: .distantPast)
            return records.contains { ($0["data"] as? [String: Any])?["clientWorkload"] as? String == "payments-mfa" }
                ? records : nil
        }
        let attested = try #require(
            records.first { ($0["data"] as? [String: Any])?["clientWorkload"] as? String == "payments-mfa" }?["data"]
                as? [String: Any])
        #expect(attested["trustProviders"] as? [String] == ["cluster", "spiffe"])
        #expect((attested["claims"] as? [String: String])?["spiffe.spiffeID"] == "spiffe://acme.test/ns/mfa/sa/api")
        #expect(records.contains { $0["outcome"] as? String == "join-token-changed" })
        #expect(!records.contains { "\($0)".contains(String(joinToken.split(separator: ".").last!)) })

        // Simulation: the seven granted requests, replayed against a proposal that removes one policy and denies
        // another client: two would now be denied, five stay as they were.
        try await AdminClient.waitFor("the seven attestations in the audit log") {
            try await admin.auditRecords(since: .distantPast).filter { $0["outcome"] as? String == "attested" }.count
                == 7 ? true : nil
        }
        let proposal = try write(
            "proposal.yaml",
            """
            kind: AccessPolicy
            metadata: {name: no-idp-service}
            spec: {clientWorkload: idp-service, serverWorkload: api, effect: deny}
            """)
        let (simulated, report) = try await constellation.sigil([
            "policy", "simulate", "-f", proposal, "--remove", "deployer-api", "--since", "1h",
        ])
        #expect(simulated == 0, "\(report)")
        #expect(report.contains("replayed 7 access requests"), "\(report)")
        #expect(report.contains("unchanged: 5") && report.contains("newly denied: 2"), "\(report)")
        #expect(
            report.contains("deployer -> http://127.0.0.1:\(port)") && report.contains("denied-by-policy"), "\(report)")
        // A simulation applies nothing: the proposed policy does not exist, the removed one still does.
        #expect(try await constellation.sigil(["get", "AccessPolicy", "no-idp-service"]).status != 0)
        #expect(try await constellation.sigil(["get", "AccessPolicy", "deployer-api"]).status == 0)

        // Continuous evaluation: the deployer's edge holds a credential for five minutes; a deny applied now takes it
        // away within seconds, and the next request is decided again (and refused, saying by which policy).
        #expect(try await request(7490).status == 200)
        let denied = try await admin.apply([
            .init(
                kind: .accessPolicy, name: "no-deployer",
                spec: [
                    "clientWorkload": "deployer", "serverWorkload": "api", "effect": "deny",
                ])
        ])
        #expect(denied.first?.change == "created", "\(denied.map { $0.detail ?? "" })")
        let revokedAfter = ContinuousClock.now
        let refused = try await AdminClient.waitFor("the deployer's credential to be revoked", within: .seconds(10)) {
            let answer = try await request(7490)
            return answer.status == 403 ? answer : nil
        }
        #expect(refused.body.contains("denied-by-policy") && refused.body.contains("no-deployer"), "\(refused.body)")
        #expect(ContinuousClock.now - revokedAfter < .seconds(5))
        // The other workloads' credentials for the same server went too, and they are simply granted again.
        #expect(try await request(7491).status == 200)

        // Source networks: the edge tells the address it saw (loopback here). A deny for another network does not
        // apply; one for loopback does, and the audit log records the address the decision judged.
        #expect(try await request(7492).status == 200)
        for (name, network) in [("idp-not-from-lab", "10.99.0.0/16"), ("idp-not-from-loopback", "127.0.0.0/8")] {
            _ = try await admin.apply([
                .init(
                    kind: .accessPolicy, name: name,
                    spec: [
                        "clientWorkload": "idp-service", "serverWorkload": "api", "effect": "deny",
                        "conditions": ["sourceNetworks": [.string(network)]],
                    ])
            ])
        }
        let fromLoopback = try await AdminClient.waitFor("the loopback deny to apply", within: .seconds(10)) {
            let answer = try await request(7492)
            return answer.status == 403 ? answer : nil
        }
        #expect(fromLoopback.body.contains("idp-not-from-loopback"), "\(fromLoopback.body)")
        let judged = try await AdminClient.waitFor("the denial in the audit log") {
            try await admin.auditRecords(since: .distantPast).first {
                $0["outcome"] as? String == "denied" && "\($0)".contains("idp-not-from-loopback")
            }
        }
        let attributes = (judged["data"] as? [String: Any])?["request"] as? [String: Any]
        #expect(attributes?["source"] as? String == "127.0.0.1", "\(judged)")
        #expect(attributes?["method"] as? String == "GET", "\(judged)")

        try await mintedToken(constellation, upstream: upstream, port: port)
        try await staticInjections(constellation, port: port)
        try await oauth2AccessToken(constellation, upstream: upstream, port: port)
        try await awsFederation(constellation)
        try await mutualTLS(constellation)
        try await databases(constellation)
        try await postureRevokes(admin, request: request)
    }
}
