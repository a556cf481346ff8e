import ArgumentParser
import Foundation
import SigilEvents
import SigilPolicy
import SigilService

/// Policy decisions on one core, in process: the policy service's engine deciding requests among 10, 1,000 and
/// 10,000 policies (each an allow with a trust-provider check, a weekday office-hours window in Europe/Berlin and a
/// source network; every tenth pair also a weekend deny). `bench/cedar_decide.py` has Cedar (cedarpy) decide the same requests over
/// the same policies.
struct BenchPolicy: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Decision latency and decisions per second among many policies.")

    @Option(parsing: .upToNextOption, help: "Policy counts.") var policies: [Int] = [10, 1_000, 10_000]
    @Option(help: "Seconds of decisions per policy count.") var seconds = 3.0

    /// The moment every request is decided at: a Wednesday, 11:00 in Berlin (inside the allows' window).
    static let moment = ISO8601DateFormatter().date(from: "2026-11-25T10:00:00Z")!

    func run() async throws {
        var results: [String: Any] = [:]
        for count in policies {
            let engine = try Self.engine(policies: count)
            var durations: [Int64] = []
            durations.reserveCapacity(1_000_000)
            var granted = 0
            let started = ContinuousClock.now
            let budget = Duration.milliseconds(Int(seconds * 1000))
            var index = 0
            let providers = ["cluster"]
            let request = RequestAttributes(method: "GET", path: "/v1/ledger", source: "10.1.2.3")
            while ContinuousClock.now - started < budget {
                for _ in 0..<1_000 {
                    let pair = (index &* 7_919) % count
                    index += 1
                    // The request as the service has it (its strings made), before the clock starts.
                    let client = "c\(pair)"
                    let target = AccessTarget(scheme: "https", host: "s\(pair).bench.internal", port: 443)
                    let before = ContinuousClock.now
                    let decision = engine.decide(
                        clientWorkload: client, target: target, request: request, trustProviders: providers,
                        tenant: "bench", at: Self.moment)
                    let elapsed = (ContinuousClock.now - before).components
                    durations.append(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
                    if decision.policy != nil { granted += 1 }
                }
            }
            let total = ContinuousClock.now - started
            durations.sort()
            func percentile(_ p: Double) -> Double {
                Double(durations[min(durations.count - 1, Int(Double(durations.count) * p))]) / 1_000
            }
            results[String(count)] = [
                "decisions": durations.count, "granted": granted,
                "perSecond": Double(durations.count)
                    / (Double(total.components.seconds) + Double(total.components.attoseconds) / 1e18),
                "p50Microseconds": percentile(0.5), "p99Microseconds": percentile(0.99),
            ]
        }
        print(
            String(decoding: try JSONSerialization.data(withJSONObject: results, options: [.sortedKeys]), as: UTF8.self)
        )
    }

    /// An engine over `count` server workloads and their policies, as the policy service holds them after admission.
    static func engine(policies count: Int) throws -> PolicyEngine {
        let servers = ResourceIndex<ServerWorkloadSpec>()
        let policies = ResourceIndex<AccessPolicySpec>()
        let now = Date()
        func metadata(_ name: String) -> ResourceMetadata {
            ResourceMetadata(
                name: name, tenant: "bench", labels: [:], uid: UUIDv7.generate(), resourceVersion: UUIDv7.generate(),
                generation: 1, createdAt: now, updatedAt: now, createdBy: "bench")
        }
        var serverResources: [Resource<ServerWorkloadSpec>] = []
        var policyResources: [Resource<AccessPolicySpec>] = []
        for pair in 0..<count {
            let server: JSONValue = [
                "scheme": "https", "host": .string("s\(pair).bench.internal"), "port": 443, "reportEachRequest": false,
            ]
            serverResources.append(
                Resource(metadata: metadata("s\(pair)"), spec: try server.decode(ServerWorkloadSpec.self)))
            let allow: JSONValue = [
                "clientWorkload": .string("c\(pair)"), "serverWorkload": .string("s\(pair)"), "effect": "allow",
                "trustProvider": "cluster", "credentialProvider": "key", "ttlSeconds": 300,
                "conditions": [
                    "timeWindows": [
                        [
                            "days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00",
                            "timeZone": "Europe/Berlin",
                        ]
                    ],
                    "sourceNetworks": ["10.0.0.0/8"],
                ],
            ]
            policyResources.append(
                Resource(metadata: metadata("p\(pair)"), spec: try allow.decode(AccessPolicySpec.self)))
            if pair % 10 == 0 {
                let deny: JSONValue = [
                    "clientWorkload": .string("c\(pair)"), "serverWorkload": .string("s\(pair)"), "effect": "deny",
                    "ttlSeconds": 300,
                    "conditions": [
                        "timeWindows": [
                            ["days": ["sat", "sun"], "from": "00:00", "to": "24:00", "timeZone": "Europe/Berlin"]
                        ]
                    ],
                ]
                policyResources.append(
                    Resource(metadata: metadata("d\(pair)"), spec: try deny.decode(AccessPolicySpec.self)))
            }
        }
        servers.replace(with: serverResources)
        policies.replace(with: policyResources)
        let engine = PolicyEngine(servers: servers, policies: policies)
        _ = engine.decide(
            clientWorkload: "c0", target: AccessTarget(scheme: "https", host: "s0.bench.internal", port: 443),
            trustProviders: ["cluster"], tenant: "bench", at: moment)  // compiled before timing, as in service
        return engine
    }
}
