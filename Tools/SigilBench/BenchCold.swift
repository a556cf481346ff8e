import ArgumentParser
import Foundation
import SigilClient

/// The cold flow: requests whose credential the edge does not hold, so each goes through attestation, policy and
/// issuance. Serially (a fresh workload token before each), and concurrently (one request to each cold-flow server
/// workload at once, each its own credential).
struct BenchCold: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cold", abstract: "Latency of requests that need a new credential.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Serial cold requests (a new token before each).") var serial = 50

    func run() async throws {
        let identity = try options.identity()
        let (host, port) = try options.proxy()
        var serialTimes: [Duration] = []
        var failures = 0
        for _ in 0..<serial {
            try await options.rotateToken(identity)
            let started = ContinuousClock.now
            let response = try await ForwardProxyRequest.get(
                "http://127.0.0.1:\(options.upstreamPort)/", proxyHost: host, proxyPort: port, headers: [])
            serialTimes.append(ContinuousClock.now - started)
            if response.status != 200 { failures += 1 }
        }
        try await options.rotateToken(identity)
        let concurrent = try await withThrowingTaskGroup(of: (Duration, Int).self) { tasks in
            for index in 0..<options.coldPorts {
                tasks.addTask {
                    let started = ContinuousClock.now
                    let response = try await ForwardProxyRequest.get(
                        "http://127.0.0.1:\(options.coldPortBase + index)/", proxyHost: host, proxyPort: port,
                        headers: [])
                    return (ContinuousClock.now - started, response.status)
                }
            }
            return try await tasks.reduce(into: [(Duration, Int)]()) { $0.append($1) }
        }
        struct Result: Encodable {
            let measurement = "cold"
            let serial: LatencySummary
            let serialFailures: Int
            let concurrent: LatencySummary
            let concurrentFailures: Int
        }
        try printJSON(
            Result(
                serial: LatencySummary(serialTimes), serialFailures: failures,
                concurrent: LatencySummary(concurrent.map(\.0)),
                concurrentFailures: concurrent.filter { $0.1 != 200 }.count))
    }
}
