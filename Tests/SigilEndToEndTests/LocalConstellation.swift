import Foundation
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

    static func start(_ stateDirectory: String = ".sigil/e2e") async throws -> LocalConstellation {
        let (status, output) = try await run(
            "\(binaries)/sigil", ["dev", "up", "--detach", "--state-directory", stateDirectory])
        try #require(status == 0, "sigil dev up failed:\n\(output)")
        return LocalConstellation(stateDirectory: stateDirectory)
    }

    func stop() async throws -> String {
        let (status, output) = try await Self.run(
            "\(Self.binaries)/sigil", ["dev", "down", "--state-directory", stateDirectory])
        #expect(status == 0, "sigil dev down failed:\n\(output)")
        return output
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

    static func run(_ executable: String, _ arguments: [String]) async throws -> (Int32, String) {
        let (status, output) = try await ProcessLauncher.runDetached(executable, arguments)
        return (status, output)
    }
}

extension Int {
    var int32: Int32 { Int32(truncatingIfNeeded: self) }
}
