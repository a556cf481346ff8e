import ArgumentParser
import Foundation
import SigilClient

/// Single flight: many concurrent requests for one (workload, server workload) that the edge holds no credential
/// for cause one access request.
struct BenchSingleFlight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "single-flight", abstract: "Concurrent cold requests for one workload: access requests published.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Concurrent requests.") var requests = 1_000

    func run() async throws {
        let (host, port) = try options.proxy()
        try await options.rotateToken(try options.identity())
        // The edge looks at its token file every 250 ms: requests before it sees the new token would be another
        // evidence's (one more access request, rightly), not the single flight measured here.
        try await Task.sleep(for: .milliseconds(600))
        let before = try await options.accessRequests()
        let statuses = try await withThrowingTaskGroup(of: Int.self) { tasks in
            for _ in 0..<requests {
                tasks.addTask {
                    try await ForwardProxyRequest.get(
                        "http://127.0.0.1:\(options.upstreamPort)/", proxyHost: host, proxyPort: port, headers: []
                    ).status
                }
            }
            return try await tasks.reduce(into: [Int]()) { $0.append($1) }
        }
        try await Task.sleep(for: .milliseconds(500))
        let published = try await options.accessRequests() - before
        struct Result: Encodable {
            let measurement = "single-flight"
            let requests: Int
            let ok: Int
            let accessRequested: Int64
        }
        try printJSON(
            Result(requests: requests, ok: statuses.filter { $0 == 200 }.count, accessRequested: published))
    }
}
