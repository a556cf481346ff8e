import Foundation
import Synchronization

/// What `/readyz` reports: ready only when start-up finished (migrations applied, topics present) and every live
/// dependency check passes right now.
public final class Readiness: Sendable {
    public struct Check: Sendable {
        public let name: String
        /// Throws (or times out) when the dependency is unreachable.
        public let probe: @Sendable () async throws -> Void

        public init(name: String, probe: @escaping @Sendable () async throws -> Void) {
            self.name = name
            self.probe = probe
        }
    }

    public struct Report: Sendable, Codable {
        public var ready: Bool
        public var checks: [String: String]
    }

    private let startupComplete = Mutex(false)
    /// Conditions components report themselves (e.g. a worker that has its partitions), by name.
    private let conditions = Mutex<[String: Bool]>([:])
    private let checks: [Check]
    private let probeTimeout: Duration

    public init(checks: [Check], probeTimeout: Duration = .seconds(2)) {
        self.checks = checks
        self.probeTimeout = probeTimeout
    }

    public func markStartupComplete() { startupComplete.withLock { $0 = true } }

    public var isStartupComplete: Bool { startupComplete.withLock { $0 } }

    /// Adds a condition that keeps the service unready until `satisfy(_:)` is called with the same name.
    public func addCondition(_ name: String) { conditions.withLock { $0[name] = false } }

    public func satisfy(_ name: String) { conditions.withLock { $0[name] = true } }

    public func report() async -> Report {
        var results: [String: String] = ["startup": isStartupComplete ? "ok" : "pending"]
        for (name, satisfied) in conditions.withLock({ $0 }) { results[name] = satisfied ? "ok" : "pending" }
        await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                let timeout = probeTimeout
                group.addTask {
                    do {
                        try await withTimeout(timeout) { try await check.probe() }
                        return (check.name, "ok")
                    } catch {
                        return (check.name, "unreachable")
                    }
                }
            }
            for await (name, result) in group { results[name] = result }
        }
        return Report(ready: results.values.allSatisfy { $0 == "ok" }, checks: results)
    }
}

struct TimeoutError: Error {}

/// Runs `body`, giving up after `timeout`.
func withTimeout(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await body()
            return true
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return false
        }
        let finished = try await group.next() ?? false
        group.cancelAll()
        if !finished { throw TimeoutError() }
    }
}
