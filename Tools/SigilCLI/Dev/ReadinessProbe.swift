import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import SigilClient

/// Asks a service's `/readyz`.
enum ReadinessProbe {
    enum Health: String {
        case ready
        case notReady = "not ready"
        case unreachable
    }

    static func check(
        port: Int, host: String = "127.0.0.1", path: String = "/readyz", client: HTTPClient = .shared
    ) async -> Health {
        do {
            var request = HTTPClientRequest(url: "http://\(host):\(port)\(path)")
            request.method = .GET
            let response = try await client.execute(request, timeout: .seconds(3))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return response.status == .ok ? .ready : .notReady
        } catch {
            return .unreachable
        }
    }
}

extension ReadinessProbe {
    /// Waits until a process just started answers `/readyz` 200; refuses, with the last lines of its log, if it exits
    /// first or is not ready within `timeout` seconds.
    static func waitUntilReady(_ process: DevState.ManagedProcess, timeout: Int) async throws {
        guard let port = process.port else { return }
        let deadline = ContinuousClock.now + .seconds(timeout)
        while await check(port: port) != .ready {
            guard ProcessLauncher.isAlive(process.pid) else {
                throw exitedDuringStartUp(process.name, logFile: process.logFile)
            }
            guard ContinuousClock.now < deadline else {
                throw ValidationError("\(process.name) not ready within \(timeout) s; see \(process.logFile)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// A process that exited while starting, with the last lines of its log.
    static func exitedDuringStartUp(_ name: String, logFile: String) -> ValidationError {
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        let tail = log.split(separator: "\n").suffix(20).joined(separator: "\n")
        return ValidationError("\(name) exited during start-up; last lines of \(logFile):\n\(tail)")
    }
}
