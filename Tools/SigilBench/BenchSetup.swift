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

    func run() async throws {
        let identity = DemoIdentity()
        FileManager.default.createFile(
            atPath: options.identityFile, contents: Data(identity.privateKeyPEM.utf8),
            attributes: [.posixPermissions: 0o600])
        var documents = try DemoConfiguration.documents(
            identity: identity, upstreamPort: options.upstreamPort, apiKey: apiKey)
        documents += DemoConfiguration.coldFlowDocuments(
            ports: (0..<options.coldPorts).map { options.coldPortBase + $0 })
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
        print("configured \(documents.count) resources; warm-up request answered 200")
    }
}
