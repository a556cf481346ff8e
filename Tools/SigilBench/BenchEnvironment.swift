import ArgumentParser
import AsyncHTTPClient
import Foundation
import Logging
import SigilClient
import SigilEvents
import SigilKafka

/// Where the benchmark's constellation is and how the workload reaches it.
struct BenchOptions: ParsableArguments {
    @Option(help: "The constellation's state directory (its env file is read).")
    var stateDirectory = ".sigil/bench"
    @Option(help: "The upstream's port (nginx, answering 200 only with the right key).")
    var upstreamPort = 18_080
    @Option(help: "First of the ports of the cold-flow server workloads (one server workload per port).")
    var coldPortBase = 18_100
    @Option(help: "How many cold-flow server workloads (ports from --cold-port-base on).")
    var coldPorts = 100

    var admin: AdminClient { AdminClient(envFile: "\(stateDirectory)/env") }

    /// The stand-in issuer `setup` configured the trust provider with (its key kept in the state directory).
    func identity() throws -> DemoIdentity {
        try DemoIdentity(privateKeyPEM: String(contentsOfFile: identityFile, encoding: .utf8))
    }

    var identityFile: String { "\(stateDirectory)/bench-issuer.pem" }

    func setting(_ name: String) throws -> String { try admin.setting(name) }

    /// What `dev up` recorded of the constellation's processes.
    private func processes() throws -> [String: Any] {
        try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: "\(stateDirectory)/processes.json"))) as? [String: Any] ?? [:]
    }

    /// The process id of a running part of the constellation (a service, or `broker`).
    func pid(of name: String) throws -> Int {
        let list = try processes()["processes"] as? [[String: Any]] ?? []
        guard let pid = list.first(where: { $0["name"] as? String == name })?["pid"] as? Int else {
            throw ValidationError("\(name) is not running")
        }
        return pid
    }

    /// The process id of the constellation's PostgreSQL server (its postmaster).
    func postgresPID() throws -> Int {
        guard let directory = try processes()["postgresDataDirectory"] as? String,
            let text = try? String(contentsOfFile: "\(directory)/postmaster.pid", encoding: .utf8),
            let pid = text.split(separator: "\n").first.flatMap({ Int($0) })
        else { throw ValidationError("the constellation's PostgreSQL is not running") }
        return pid
    }

    /// The environment of a running service of the constellation (its keys, as `dev up` gave them).
    func environment(of name: String) throws -> [String: String] {
        let pid = try pid(of: name)
        let text = try String(contentsOfFile: "/proc/\(pid)/environ", encoding: .utf8)
        var values: [String: String] = [:]
        for entry in text.split(separator: "\0") {
            let parts = entry.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    /// The edge's proxy host and port.
    func proxy() throws -> (host: String, port: Int) {
        guard let url = URLComponents(string: try setting("SIGIL_EDGE_PROXY")), let host = url.host, let port = url.port
        else { throw ValidationError("SIGIL_EDGE_PROXY is not host:port") }
        return (host, port)
    }

    /// Writes a new token for `billing` and waits until the edge has read it (it checks the file every 250 ms).
    func rotateToken(_ identity: DemoIdentity) async throws {
        try await identity.present(
            namespace: "demo", serviceAccount: "billing", tokenFile: try setting("SIGIL_EDGE_TOKEN_FILE"))
    }

    /// Events a service's projection has applied so far (its Prometheus counter; 0 before the first).
    func applied(service urlSetting: String, projection: String) async throws -> Int {
        let request = HTTPClientRequest(url: try setting(urlSetting) + "/metrics")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        let prefix = "sigil_projection_events_applied{projection=\"\(projection)\"}"
        for line in text.split(separator: "\n") where line.hasPrefix(prefix) {
            if let value = line.split(separator: " ").last.flatMap({ Double($0) }) { return Int(value) }
        }
        return 0
    }

    /// Records on `access.requests` so far, over all partitions.
    func accessRequests() async throws -> Int64 {
        let admin = try KafkaAdmin(
            configuration: .init(bootstrapServers: try setting("SIGIL_KAFKA_BROKERS"), clientID: "sigil-bench"),
            logger: Logger(label: "sigil-bench"))
        let topic = SigilTopics().name(.accessRequests)
        var total: Int64 = 0
        for partition in 0..<(try await admin.metadata().topic(topic)?.partitions ?? 0) {
            total += try await admin.highWatermark(topic: topic, partition: partition)
        }
        return total
    }
}

/// Percentiles of a set of durations, in milliseconds.
struct LatencySummary: Encodable {
    let count: Int
    let p50: Double
    let p90: Double
    let p99: Double
    let max: Double

    init(_ durations: [Duration]) {
        let sorted = durations.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) / 1e15 }
            .sorted()
        func percentile(_ p: Double) -> Double {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
        }
        count = sorted.count
        p50 = percentile(0.50)
        p90 = percentile(0.90)
        p99 = percentile(0.99)
        max = sorted.last ?? 0
    }
}

func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
