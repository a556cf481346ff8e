import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SigilClient

/// `sigil demo upstream`: the demo's protected API as a long-running server (docker-compose's `demo-upstream`). It
/// answers 200 only with the API key in `SIGIL_DEMO_API_KEY`, which only it and the issuance service know.
struct DemoUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upstream",
        abstract: "Serve the demo's protected API (GET /reports needs X-API-Key: $SIGIL_DEMO_API_KEY)."
    )

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080

    func run() async throws {
        lineBufferedOutput()
        let apiKey = try demoAPIKey()
        let upstream = DemoUpstream(apiKey: apiKey)
        print("demo upstream on \(host):\(port); GET /reports answers 200 only with its API key")
        let group = ServiceGroup(
            configuration: .init(
                services: [upstream.application(host: host, port: port)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "sigil.demo.upstream")))
        try await group.run()
    }
}

/// The demo API's key, from the environment (`sigil deploy init` writes it): at least 16 characters.
func demoAPIKey() throws -> String {
    guard let key = ProcessInfo.processInfo.environment["SIGIL_DEMO_API_KEY"], key.utf8.count >= 16 else {
        throw ValidationError("SIGIL_DEMO_API_KEY must be set to at least 16 characters (sigil deploy init writes one)")
    }
    return key
}
