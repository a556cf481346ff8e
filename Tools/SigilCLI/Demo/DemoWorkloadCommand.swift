import ArgumentParser
import Foundation
import SigilClient

/// `sigil demo workload`: the compose demo's workload. It holds no secret: it calls the protected API through the edge
/// beside it (same network namespace) every few seconds and prints what came back.
struct DemoWorkloadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workload",
        abstract: "Call a URL through the edge beside this process, holding no credential, and print each answer."
    )

    @Option(help: "What to call.") var url = "http://demo-upstream:8080/reports"
    @Option(help: "The edge's forward proxy.") var proxy = "http://127.0.0.1:7480"
    @Option(help: "Seconds between calls.") var interval = 5
    @Option(help: "Stop after this many calls (0: never).") var count = 0

    func run() async throws {
        lineBufferedOutput()
        guard let components = URLComponents(string: proxy), let host = components.host, let port = components.port
        else { throw ValidationError("--proxy must be http://host:port") }
        var made = 0
        while count == 0 || made < count {
            made += 1
            do {
                let response = try await ForwardProxyRequest.get(url, proxyHost: host, proxyPort: port)
                print("\(response.status) \(response.body.trimmingCharacters(in: .whitespacesAndNewlines))")
            } catch {
                print("no answer from the edge at \(proxy): \(error)")
            }
            if count == 0 || made < count { try await Task.sleep(for: .seconds(interval)) }
        }
    }
}
