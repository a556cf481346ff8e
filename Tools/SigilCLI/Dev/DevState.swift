import Foundation
import SigilClient
import SigilEvents

/// The files of a local constellation under its state directory (`.sigil/dev` by default):
/// `env` (KEY=VALUE, mode 0600), `processes.json` (what `dev down` stops), `logs/`, `postgres/`.
struct DevState {
    struct ManagedProcess: Codable {
        var name: String
        var pid: Int32
        /// Port whose `/readyz` tells the process's health; nil for the broker and PostgreSQL.
        var port: Int?
        var logFile: String
        /// `SIGIL_INSTANCE_ID` of a service replica (`dev-1`, `dev-2`, ...).
        var instance: String? = nil
        /// An edge's forward-proxy port.
        var proxyPort: Int? = nil
        /// What `sigil dev restart` starts again: the executable, and its `SIGIL_*` settings (a 0600 file, they
        /// hold the service's keys).
        var executable: String? = nil
        var settingsFile: String? = nil
    }

    struct Processes: Codable {
        var processes: [ManagedProcess] = []
        /// PostgreSQL's data directory, stopped with `pg_ctl stop`.
        var postgresDataDirectory: String?
    }

    let directory: String

    init(directory: String) {
        self.directory = URL(fileURLWithPath: directory).standardizedFileURL.path
    }

    var envFile: String { "\(directory)/env" }
    var processesFile: String { "\(directory)/processes.json" }
    var logDirectory: String { "\(directory)/logs" }
    var postgresDirectory: String { "\(directory)/postgres" }
    var brokerAddressFile: String { "\(directory)/broker.address" }
    /// The first edge's settings (its signing key included), for `sigil dev edge`; mode 0600.
    var edgeEnvFile: String { "\(directory)/edge.env" }

    /// Where a process's `SIGIL_*` settings are kept for `sigil dev restart`.
    func settingsFile(of name: String) -> String { "\(directory)/run/\(name).env" }

    /// Writes a process's `SIGIL_*` settings, owner-only; returns the file.
    func saveSettings(of name: String, _ environment: [String: String]) throws -> String {
        let file = settingsFile(of: name)
        try FileManager.default.createDirectory(
            atPath: "\(directory)/run", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try Self.writeSettings(environment, to: file)
        return file
    }

    /// The `SIGIL_*` variables of `environment` as `KEY=VALUE` lines in a file only its owner reads.
    static func writeSettings(_ environment: [String: String], to file: String) throws {
        try writePrivateFile(
            file,
            environment.filter { $0.key.hasPrefix("SIGIL_") }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: "\n") + "\n")
    }

    func prepare() throws {
        try FileManager.default.createDirectory(atPath: logDirectory, withIntermediateDirectories: true)
    }

    func loadProcesses() -> Processes? {
        guard let data = FileManager.default.contents(atPath: processesFile) else { return nil }
        return try? JSONDecoder().decode(Processes.self, from: data)
    }

    func save(_ processes: Processes) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(processes).write(to: URL(fileURLWithPath: processesFile), options: .atomic)
    }

    func removeProcesses() {
        try? FileManager.default.removeItem(atPath: processesFile)
    }

    /// Writes `KEY=VALUE` lines readable only by the owner (the file holds the admin token and database password).
    func writeEnv(_ values: [(String, String)]) throws {
        let text = values.map { "\($0.0)=\($0.1)" }.joined(separator: "\n") + "\n"
        try writePrivateFile(envFile, text)
    }

    func readEnv() -> [String: String] { AdminClient.readEnvFile(envFile) }
}

/// Random URL-safe secrets for the dev admin token and database password.
enum DevSecret {
    /// 32 random bytes, standard base64: the dev attestation private key and key-encryption key.
    static func generateKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    static func generate(bytes: Int = 32) -> String {
        var generator = SystemRandomNumberGenerator()
        let raw = (0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return Data(raw).base64URLEncodedString
    }
}

/// Creates (or replaces) a file readable only by its owner: secrets, and logs that may hold them.
func writePrivateFile(_ path: String, _ contents: String = "") throws {
    guard
        FileManager.default.createFile(
            atPath: path, contents: Data(contents.utf8), attributes: [.posixPermissions: 0o600])
    else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
}
