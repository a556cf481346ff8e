import ArgumentParser
import Foundation
import SigilClient
import SigilEvents

/// Applies the demo's resources for the benchmark upstream, plus one server workload and policy per cold-flow port.
struct BenchSetup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "setup", abstract: "Configure the running constellation for the benchmark.")

    @OptionGroup var options: BenchOptions
    @Option(help: "The key the upstream accepts (the static credential).") var apiKey: String
    @Option(help: "The upstream's HTTPS port: configured as an https server workload (bench-tls) too.")
    var tlsPort: Int?
    @Option(help: "The PEM CA the HTTPS upstream's certificate (for localhost) chains to.") var tlsCA: String?

    func run() async throws {
        let identity = DemoIdentity()
        FileManager.default.createFile(
            atPath: options.identityFile, contents: Data(identity.privateKeyPEM.utf8),
            attributes: [.posixPermissions: 0o600])
        var documents = try DemoConfiguration.documents(
            identity: identity, upstreamPort: options.upstreamPort, apiKey: apiKey)
        documents += DemoConfiguration.coldFlowDocuments(
            ports: (0..<options.coldPorts).map { options.coldPortBase + $0 })
        if let tlsPort, let tlsCA {
            // The same API over HTTPS: the edge originates the TLS (verified against the CA, name localhost).
            let ca = try String(contentsOfFile: tlsCA, encoding: .utf8)
            documents += [
                ResourceDocument(
                    kind: .serverWorkload, name: "bench-tls",
                    spec: try .init(json: [
                        "scheme": "https", "host": "127.0.0.1", "port": tlsPort, "ca": ca, "serverName": "localhost",
                    ])),
                ResourceDocument(
                    kind: .accessPolicy, name: "billing-bench-tls",
                    spec: try .init(json: [
                        "clientWorkload": "billing", "serverWorkload": "bench-tls", "trustProvider": "demo-cluster",
                        "credentialProvider": "demo-reports-key", "ttlSeconds": 300,
                    ])),
            ]
        }
        let admin = options.admin
        let refused = try await admin.apply(documents).filter(\.refused)
        guard refused.isEmpty else {
            throw ValidationError("refused: \(refused.map { "\($0.document.reference): \($0.detail ?? "")" })")
        }
        try await admin.waitUntilProjected(documents)
        try await admin.waitUntilEdgeKnows(serverWorkload: "cold-\(options.coldPorts - 1)", within: .seconds(60))
        try await admin.waitUntilEdgeKnows(serverWorkload: DemoConfiguration.serverWorkload)
        try await options.rotateToken(identity)
        // One warm-up flow, so the first measured one does not pay for connection set-up in the services.
        let (host, port) = try options.proxy()
        let warmup = try await ForwardProxyRequest.get(
            "http://127.0.0.1:\(options.upstreamPort)/", proxyHost: host, proxyPort: port, headers: [])
        guard warmup.status == 200 else { throw ValidationError("warm-up request answered \(warmup.status)") }
        if let tlsPort {
            try await admin.waitUntilEdgeKnows(serverWorkload: "bench-tls")
            let overTLS = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(tlsPort)/", proxyHost: host, proxyPort: port, headers: [])
            guard overTLS.status == 200 else {
                throw ValidationError("warm-up request over TLS answered \(overTLS.status): \(overTLS.body)")
            }
        }
        print("configured \(documents.count) resources; warm-up request answered 200")
    }
}
