import ArgumentParser
import Foundation

/// `sigil probe`: a container health check without curl in the image: asks a service's `/readyz` (or `/healthz`) and
/// exits 0 only on 200.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Exit 0 if a Sigil service beside this process is ready (for HEALTHCHECK and exec probes).",
        discussion: "The port defaults to the service's own SIGIL_HTTP_PORT, so one health check fits every service."
    )

    @Option(help: "The service's admin port (default: $SIGIL_HTTP_PORT).") var port: Int?
    @Option(help: "The address to ask.") var host = "127.0.0.1"
    @Flag(help: "Ask /healthz (alive) instead of /readyz (ready).") var live = false

    func run() async throws {
        guard let port = port ?? ProcessInfo.processInfo.environment["SIGIL_HTTP_PORT"].flatMap(Int.init),
            (1...65_535).contains(port)
        else { throw ValidationError("give --port, or set SIGIL_HTTP_PORT to the service's port") }
        let health = await ReadinessProbe.check(port: port, host: host, path: live ? "/healthz" : "/readyz")
        print("\(host):\(port) \(health.rawValue)")
        if health != .ready { throw ExitCode(1) }
    }
}
