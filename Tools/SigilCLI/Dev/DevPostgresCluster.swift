import Foundation
import SigilClient

#if canImport(Glibc)
    import Glibc
#endif

/// A throwaway PostgreSQL cluster from the system's `initdb`/`pg_ctl`, listening on loopback only. When run as
/// root the server runs as the unprivileged `postgres` user (PostgreSQL refuses to run as root).
struct DevPostgresCluster {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    let dataDirectory: String
    let port: Int
    let user = "sigil"
    let database = "sigil"

    /// `SIGIL_PG_BINDIR`, or the newest `/usr/lib/postgresql/<version>/bin`.
    static func binDirectory() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["SIGIL_PG_BINDIR"], !configured.isEmpty {
            return configured
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted()
        guard let newest = versions.last, FileManager.default.isExecutableFile(atPath: "\(root)/\(newest)/bin/initdb")
        else {
            throw Failure(
                description:
                    "PostgreSQL server binaries not found under \(root); install the 'postgresql' package or set SIGIL_PG_BINDIR"
            )
        }
        return "\(root)/\(newest)/bin"
    }

    private var runsAsRoot: Bool { geteuid() == 0 }

    /// Runs a server binary, as `postgres` when we are root.
    private func server(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let binary = "\(try Self.binDirectory())/\(tool)"
        if runsAsRoot {
            return try ProcessLauncher.run("/usr/sbin/runuser", ["-u", "postgres", "--", binary] + arguments)
        }
        return try ProcessLauncher.run(binary, arguments)
    }

    var passwordFile: String { "\(dataDirectory).password" }

    /// Removes the cluster's data (it must not be running).
    func discard() {
        try? FileManager.default.removeItem(atPath: dataDirectory)
        try? FileManager.default.removeItem(atPath: passwordFile)
    }

    /// Creates the cluster on first use (scram-sha-256 for every connection) and returns the password.
    func initializeIfNeeded() throws -> String {
        let fileManager = FileManager.default
        if fileManager.fileExists(atPath: "\(dataDirectory)/PG_VERSION"),
            let password = try? String(contentsOfFile: passwordFile, encoding: .utf8)
        {
            return password.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try? fileManager.removeItem(atPath: dataDirectory)
        try fileManager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let password = DevSecret.generate(bytes: 24)
        let initialPassword = "\(dataDirectory)/../.initdb-password"
        try writePrivateFile(initialPassword, password)
        defer { try? fileManager.removeItem(atPath: initialPassword) }
        if runsAsRoot {
            for path in [dataDirectory, initialPassword] {
                _ = try ProcessLauncher.run("/bin/chown", ["postgres:postgres", path])
            }
        }
        let result = try server(
            "initdb",
            [
                "-D", dataDirectory, "-U", user, "--pwfile", initialPassword, "--auth", "scram-sha-256", "-E", "UTF8",
                "--no-instructions",
            ])
        guard result.status == 0 else { throw Failure(description: "initdb failed:\n\(result.output)") }
        try writePrivateFile(passwordFile, password)
        return password
    }

    func start(logFile: String) throws {
        if runsAsRoot {
            try writePrivateFile(logFile)
            _ = try ProcessLauncher.run("/bin/chown", ["postgres:postgres", logFile])
        }
        let options = "-p \(port) -c listen_addresses=127.0.0.1 -k \(dataDirectory) -c max_connections=200"
        let result = try server(
            "pg_ctl", ["start", "-D", dataDirectory, "-l", logFile, "-w", "-t", "60", "-o", options])
        guard result.status == 0 else {
            let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
            throw Failure(
                description: "PostgreSQL did not start on port \(port):\n\(result.output)\n\(log.suffix(2_000))")
        }
    }

    func createDatabaseIfNeeded(password: String) throws {
        let createdb = "\(try Self.binDirectory())/createdb"
        var environment = ProcessInfo.processInfo.environment
        environment["PGPASSWORD"] = password
        let result = try ProcessLauncher.run(
            createdb,
            ["-h", "127.0.0.1", "-p", String(port), "-U", user, database],
            environment: environment
        )
        guard result.status == 0 || result.output.contains("already exists") else {
            throw Failure(description: "createdb failed: \(result.output)")
        }
    }

    func stop() throws {
        guard FileManager.default.fileExists(atPath: "\(dataDirectory)/postmaster.pid") else { return }
        _ = try server("pg_ctl", ["stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", "30"])
    }

    var isRunning: Bool {
        (try? server("pg_ctl", ["status", "-D", dataDirectory]).status == 0) ?? false
    }

    func url(password: String) -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }
}
