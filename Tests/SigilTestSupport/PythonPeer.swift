import Foundation

/// A protocol peer written in Python (`Tests/SigilIntegrationTests/Peers/`: an authlib authorization server, AWS STS
/// and a SigV4-checking API), started for one test: it writes the ports it listens on (127.0.0.1, space-separated) to
/// a file given as its last argument, and exits when its stdin closes — when `body` returns, or the test process
/// dies (a pyenv shim between us would keep a signal from it).
public enum PythonPeer {
    public static func with<Result>(
        _ script: String, _ arguments: [String], _ body: (_ ports: [Int]) async throws -> Result
    ) async throws -> Result {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SigilIntegrationTests/Peers/\(script)").path
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-peer-\(UUID()).ports").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", path] + arguments + [portFile]
        let input = Pipe()
        process.standardInput = input
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            try? input.fileHandleForWriting.close()
            try? FileManager.default.removeItem(atPath: portFile)
        }
        var ports: [Int] = []
        let started = ContinuousClock.now
        while ports.isEmpty, ContinuousClock.now - started < .seconds(30) {
            ports = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: " ")
                .compactMap { Int($0) }
            if ports.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        }
        guard !ports.isEmpty else { throw PeerDidNotStart(script: script) }
        return try await body(ports)
    }

    public struct PeerDidNotStart: Error, CustomStringConvertible {
        public let script: String
        public var description: String { "\(script) did not start within 30 s (is its Python package installed?)" }
    }
}
