import Foundation
import Logging
import ServiceLifecycle
import SigilClient
import Testing

/// The five services, the broker and PostgreSQL as separate processes, started with `sigil dev up` into a state
/// directory of the test's own, and stopped with `sigil dev down`.
struct LocalConstellation {
    static let binaries = ProcessInfo.processInfo.environment["SIGIL_BIN"] ?? ".build/debug"
    let stateDirectory: String

    var envFile: String { "\(stateDirectory)/env" }
    var settings: [String: String] { AdminClient.readEnvFile(envFile) }
    var admin: AdminClient { AdminClient(envFile: envFile) }

    /// `replicas`: `sigil dev up --replicas`, e.g. `policy=2,audit=2`.
    static func start(
        _ stateDirectory: String = ".sigil/e2e", replicas: String? = nil
    ) async throws -> LocalConstellation {
        let (status, output) = try await run(
            "\(binaries)/sigil",
            ["dev", "up", "--detach", "--state-directory", stateDirectory]
                + (replicas.map { ["--replicas", $0] } ?? []))
        try #require(status == 0, "sigil dev up failed:\n\(output)")
        return LocalConstellation(stateDirectory: stateDirectory)
    }

    func stop() async throws -> String {
        let (status, output) = try await Self.run(
            "\(Self.binaries)/sigil", ["dev", "down", "--state-directory", stateDirectory])
        #expect(status == 0, "sigil dev down failed:\n\(output)")
        return output
    }

    /// Runs `body` with a demo upstream listening on `ports` ports (one application each) beside the constellation,
    /// then stops the upstream; the constellation is stopped if anything fails (the caller stops it otherwise).
    func withUpstream(
        ports: Int = 1, _ body: (DemoUpstream) async throws -> Void
    ) async throws {
        let upstream = DemoUpstream(apiKey: "e2e_api_key_" + UUID().uuidString.replacingOccurrences(of: "-", with: ""))
        let group = ServiceGroup(
            configuration: .init(
                services: (0..<ports).map { _ in upstream.application() }, logger: Logger(label: "e2e.upstream")))
        do {
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await group.run() }
                defer { Task { await group.triggerGracefulShutdown() } }
                try await body(upstream)
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
        } catch {
            _ = try? await stop()
            throw error
        }
    }

    /// An admin client of the second replicas (`dev up --replicas`: their ports are 100 above the first ones').
    func secondReplicasAdmin() throws -> AdminClient {
        var lines: [String] = []
        for (key, value) in settings {
            var value = value
            if key.hasSuffix("_URL"), var url = URLComponents(string: value), let port = url.port {
                url.port = port + 100
                value = url.string ?? value
            }
            lines.append("\(key)=\(value)")
        }
        let file = "\(stateDirectory)/env-2"
        // It holds the admin token: readable by the owner only, like the env file it copies.
        FileManager.default.createFile(
            atPath: file, contents: Data((lines.joined(separator: "\n") + "\n").utf8),
            attributes: [.posixPermissions: 0o600])
        return AdminClient(envFile: file)
    }

    /// The pid `dev up` recorded for a process (`sigil-attest`, `broker`, ...).
    func pid(of name: String) throws -> Int32 {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(stateDirectory)/processes.json"))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        let processes = object?["processes"] as? [[String: Any]] ?? []
        return try #require(processes.first { $0["name"] as? String == name }?["pid"] as? Int).int32
    }

    var logText: String {
        let directory = "\(stateDirectory)/logs"
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.compactMap { try? String(contentsOfFile: "\(directory)/\($0)", encoding: .utf8) }.joined(
            separator: "\n")
    }

    /// Runs psql against the constellation's database; returns its unaligned output.
    func psql(_ sql: String) throws -> String {
        let url = try #require(settings["SIGIL_POSTGRES_URL"])
        let (status, output) = try ProcessLauncher.run(
            "/usr/bin/psql", [url, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        try #require(status == 0, "psql failed: \(output)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs the CLI with the constellation's settings.
    func sigil(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        var environment = ProcessInfo.processInfo.environment
        environment.merge(settings) { _, setting in setting }
        return try ProcessLauncher.run("\(Self.binaries)/sigil", arguments, environment: environment)
    }

    static func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
        let (status, output) = try await ProcessLauncher.runDetached(executable, arguments)
        return (status, output)
    }
}

extension Int {
    var int32: Int32 { Int32(truncatingIfNeeded: self) }
}
