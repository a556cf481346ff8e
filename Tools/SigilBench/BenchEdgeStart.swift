import ArgumentParser
import AsyncHTTPClient
import Foundation
import SigilClient
import SigilEvents

/// A new edge in a tenant with many resources: how long from its start until it is ready and knows every server
/// workload of its tenant (it reads the compacted config topic from the start). The resources are written as
/// `sigil apply -f` writes a file (sets of 1,000 through the policy service's admin API, each one signed batch).
struct BenchEdgeStart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge-start", abstract: "Start a second edge in a tenant with many resources; time to ready.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Server workloads written to the tenant first.") var resources = 10_000
    @Option(help: "Admin port of the second edge.") var httpPort = 7_115
    @Option(help: "Proxy port of the second edge.") var proxyPort = 7_490

    func run() async throws {
        let edge = try options.environment(of: "sigil-edge")
        // Every projection that reads the configuration, and what each had applied before.
        let readers = [
            ("SIGIL_ATTEST_URL", "resources"), ("SIGIL_POLICY_URL", "resources"), ("SIGIL_ISSUE_URL", "resources"),
            ("SIGIL_AUDIT_URL", "resources"), ("SIGIL_AUDIT_URL", "audit-log"),
        ]
        var before: [Int] = []
        for (service, projection) in readers {
            before.append(try await options.applied(service: service, projection: projection))
        }
        let applying = ContinuousClock.now
        try await write(resources)
        let applied = ContinuousClock.now - applying
        // The resources exist before the edge starts, and every service has taken them in (the constellation is at
        // rest, as in a running deployment: the new edge does not share the cores with their catching up).
        for ((service, projection), count) in zip(readers, before) {
            try await AdminClient.waitFor("\(service) \(projection) to apply the resources", within: .seconds(300)) {
                () -> Bool? in
                try await options.applied(service: service, projection: projection) >= count + resources ? true : nil
            }
        }
        var environment = edge
        environment["SIGIL_HTTP_PORT"] = String(httpPort)
        environment["SIGIL_EDGE_PROXY_PORT"] = String(proxyPort)
        environment["SIGIL_EDGE_ID"] = "bench-edge-2"
        environment["SIGIL_INSTANCE_ID"] = "bench-2"
        environment["SIGIL_EDGE_REPLY_PARTITION"] = nil
        let started = ContinuousClock.now
        let pid = try ProcessLauncher.launch(
            executable: "\(Self.binaries)/sigil-edge", arguments: [], environment: environment,
            logFile: "\(options.stateDirectory)/logs/sigil-edge-2.log")
        defer { kill(pid, SIGTERM) }
        let base = "http://127.0.0.1:\(httpPort)"
        // Readiness is cheap to ask; the status (every name) is read once ready, to check it knows them all.
        var ready: Duration?
        var knowsAll: Duration?
        let token = environment["SIGIL_EDGE_ROLE_TOKEN"] ?? ""
        while ContinuousClock.now - started < .seconds(60), ready == nil {
            if (try? await Self.status(of: "\(base)/readyz", token: nil)) == 200 {
                ready = ContinuousClock.now - started
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        if ready != nil, let count = try? await Self.workloads(of: "\(base)/v1/edge/status", token: token),
            count >= resources
        {
            knowsAll = ContinuousClock.now - started
        }
        struct Result: Encodable {
            let measurement = "edge-start"
            let resources: Int
            /// `sigil apply` of the resources, until every document's answer.
            let applyMilliseconds: Double?
            let readyMilliseconds: Double?
            let knowsAllMilliseconds: Double?
        }
        func milliseconds(_ duration: Duration?) -> Double? {
            duration.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }
        }
        try printJSON(
            Result(
                resources: resources, applyMilliseconds: milliseconds(applied), readyMilliseconds: milliseconds(ready),
                knowsAllMilliseconds: milliseconds(knowsAll)))
    }

    static var binaries: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
    }

    /// Server workloads `be-<run>-N` (new names each run, so each run writes them all), applied as `sigil apply`.
    func write(_ count: Int) async throws {
        let run = UUID().uuidString.prefix(8).lowercased()
        let documents = (0..<count).map { index in
            let name = "be-\(run)-\(index)"
            return ResourceDocument(
                kind: .serverWorkload, name: name,
                spec: [
                    "scheme": "https", "host": .string("\(name).bench.internal"), "port": 443,
                    "reportEachRequest": false,
                ])
        }
        let refused = try await options.admin.apply(documents).filter(\.refused)
        if let first = refused.first {
            throw ValidationError("\(refused.count) server workloads refused: \(first.detail ?? "")")
        }
    }

    static func status(of url: String, token: String?) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return Int(try await HTTPClient.shared.execute(request, timeout: .seconds(1)).status.code)
    }

    static func workloads(of url: String, token: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(1))
        let body = try await response.body.collect(upTo: 4 * 1024 * 1024)
        let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        return (object?["serverWorkloads"] as? [Any])?.count ?? 0
    }
}
