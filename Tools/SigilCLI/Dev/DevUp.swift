import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SigilClient

#if canImport(Glibc)
    import Glibc
#endif

/// `sigil dev up`: broker, PostgreSQL and the five services as separate processes, ready.
struct DevUp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Start the broker, a throwaway PostgreSQL and the five services; wait until all are ready."
    )

    @OptionGroup var options: DevOptions
    @Flag(help: "Return once everything is ready and leave it running (stop it with `sigil dev down`).")
    var detach = false
    @Option(help: "Seconds to wait for every service to be ready.") var timeout: Int = 120
    @Option(
        help: ArgumentHelp(
            "Processes per service, e.g. policy=3,attest=2,issue=2,audit=2,edge=2 (default one each).",
            discussion: "Replica N listens 100 ports above replica N-1 (policy: 7102, 7202, 7302); edges' proxies on "
                + "7480, 7481, ...; `sigil dev status` lists them.",
            valueName: "service=count,..."),
        transform: { try DevReplicas(parsing: $0) })
    var replicas = DevReplicas()

    func run() async throws {
        let state = DevState(directory: options.stateDirectory)
        if let running = state.loadProcesses(), running.processes.contains(where: { ProcessLauncher.isAlive($0.pid) }) {
            throw ValidationError(
                "a constellation is already running from \(state.directory); run `sigil dev down` first")
        }
        try state.prepare()
        var processes = DevState.Processes()
        do {
            try await start(state: state, processes: &processes)
        } catch {
            print("start-up failed; stopping what was started")
            try? state.save(processes)
            await DevDown.stopAll(state: state)
            throw error
        }
        if detach {
            print("\nThe constellation keeps running. Stop it with: sigil dev down   (status: sigil dev status)")
            return
        }
        print("\nRunning; press Ctrl-C to stop.")
        let group = ServiceGroup(
            configuration: .init(
                services: [WaitForSignal()],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: Logger(label: "sigil.dev")
            )
        )
        try await group.run()
        await DevDown.stopAll(state: state)
    }

    private func start(state: DevState, processes: inout DevState.Processes) async throws {
        let binaries = ProcessLauncher.executableDirectory
        // The caller's SIGIL_ settings (log level, topic prefix, ...) pass through; those set below win.
        let baseEnvironment = ProcessInfo.processInfo.environment

        step("PostgreSQL on 127.0.0.1:\(DevConstellation.postgresPort)")
        let postgres = DevPostgresCluster(dataDirectory: state.postgresDirectory, port: DevConstellation.postgresPort)
        // The broker keeps nothing across runs, so neither may the database: stored projection offsets must match
        // the topics they were read from.
        if !postgres.isRunning { postgres.discard() }
        let password = try postgres.initializeIfNeeded()
        processes.postgresDataDirectory = postgres.dataDirectory
        try state.save(processes)
        if !postgres.isRunning {
            try postgres.start(logFile: "\(state.logDirectory)/postgres.log")
        }
        try postgres.createDatabaseIfNeeded(password: password)
        let postgresURL = postgres.url(password: password)

        step("Kafka-protocol broker (librdkafka mock cluster)")
        try? FileManager.default.removeItem(atPath: state.brokerAddressFile)
        let brokerLog = "\(state.logDirectory)/broker.log"
        let brokerPID = try ProcessLauncher.launch(
            executable: "\(binaries)/sigil",
            arguments: ["dev", "broker", "--address-file", state.brokerAddressFile],
            environment: baseEnvironment,
            logFile: brokerLog
        )
        processes.processes.append(.init(name: "broker", pid: brokerPID, port: nil, logFile: brokerLog))
        try state.save(processes)
        let brokers = try await waitForBrokerAddress(state: state, pid: brokerPID, logFile: brokerLog)
        print("    bootstrap \(brokers)")

        let adminToken = DevSecret.generate()
        let auditorToken = DevSecret.generate()
        let edgeRoleToken = DevSecret.generate()
        let tokenFile = "\(state.directory)/workload-token"
        try writePrivateFile(tokenFile)
        var environment = baseEnvironment
        environment["SIGIL_EDGE_TOKEN_FILE"] = tokenFile
        // Each key only to the service that holds it: its role's event-signing key, and the keys of its own.
        var serviceSecrets = [
            "sigil-attest": ["SIGIL_ATTEST_PRIVATE_KEY": DevSecret.generateKey()],
            "sigil-issue": ["SIGIL_KEK": DevSecret.generateKey()],
            "sigil-audit": ["SIGIL_AUDIT_KEK": DevSecret.generateKey()],
            "sigil-policy": ["SIGIL_POLICY_KEK": DevSecret.generateKey()],
        ]
        let signing = SigningKeySet.generate(suffix: "dev-1")
        for (role, key) in signing.keys {
            serviceSecrets["sigil-\(role.rawValue)", default: [:]].merge(key) { _, new in new }
        }
        // File log streams write under one directory of the state directory, nowhere else; a new constellation (new
        // keys, new database) starts it empty.
        let auditFiles = URL(fileURLWithPath: "\(state.directory)/audit-logs").standardizedFileURL.path
        try? FileManager.default.removeItem(atPath: auditFiles)
        try FileManager.default.createDirectory(
            atPath: auditFiles, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        serviceSecrets["sigil-audit", default: [:]]["SIGIL_AUDIT_FILE_DIR"] = auditFiles
        let trustBundle = "\(state.directory)/trust-bundle.json"
        try signing.bundle.write(to: URL(fileURLWithPath: trustBundle))
        environment["SIGIL_TRUST_BUNDLE"] = trustBundle
        environment["SIGIL_KAFKA_BROKERS"] = brokers
        environment["SIGIL_POSTGRES_URL"] = postgresURL
        environment["SIGIL_ADMIN_TOKEN"] = adminToken
        environment["SIGIL_AUDITOR_TOKEN"] = auditorToken
        // The mock broker answers a fetch only when this wait ends (real Kafka answers as soon as data is there): 5 ms
        // keeps a hop short without the consumers spinning; a caller's value wins (`make bench` uses 1).
        environment["SIGIL_KAFKA_FETCH_WAIT_MAX_MS"] = baseEnvironment["SIGIL_KAFKA_FETCH_WAIT_MAX_MS"] ?? "5"
        // One in-process broker: one replica of everything.
        environment["SIGIL_TOPIC_REPLICATION"] = "1"
        environment["SIGIL_TOPIC_MIN_INSYNC_REPLICAS"] = "1"
        for member in DevConstellation.services {
            for replica in 1...replicas.count(of: member) {
                let name = DevConstellation.processName(of: member, replica: replica)
                let port = DevConstellation.port(of: member, replica: replica)
                step("\(name) on 127.0.0.1:\(port)")
                var serviceEnvironment = environment
                serviceEnvironment["SIGIL_HTTP_PORT"] = String(port)
                serviceEnvironment["SIGIL_INSTANCE_ID"] = "dev-\(replica)"
                serviceEnvironment.merge(serviceSecrets[member.name] ?? [:]) { _, secret in secret }
                var proxyPort: Int?
                if member.name == "sigil-edge" {
                    // An edge holds its own credential, never the tenant's admin or auditor token.
                    serviceEnvironment["SIGIL_ADMIN_TOKEN"] = nil
                    serviceEnvironment["SIGIL_AUDITOR_TOKEN"] = nil
                    serviceEnvironment["SIGIL_EDGE_ROLE_TOKEN"] = edgeRoleToken
                    proxyPort = DevConstellation.edgeProxyPort(replica: replica)
                    serviceEnvironment["SIGIL_EDGE_PROXY_PORT"] = String(proxyPort!)
                }
                if member.name == "sigil-edge" && replica == 1 {
                    // What `sigil dev edge` starts further edges with (their own evidence): owner-only, as `env`.
                    try DevState.writeSettings(serviceEnvironment, to: state.edgeEnvFile)
                }
                let logFile = "\(state.logDirectory)/\(name).log"
                let executable = "\(binaries)/\(member.name)"
                let pid = try ProcessLauncher.launch(
                    executable: executable,
                    arguments: [],
                    environment: serviceEnvironment,
                    logFile: logFile
                )
                processes.processes.append(
                    .init(
                        name: name, pid: pid, port: port, logFile: logFile, instance: "dev-\(replica)",
                        proxyPort: proxyPort, executable: executable,
                        settingsFile: try state.saveSettings(of: name, serviceEnvironment)))
                try state.save(processes)
            }
        }

        var values: [(String, String)] = [
            ("SIGIL_KAFKA_BROKERS", brokers),
            ("SIGIL_POSTGRES_URL", postgresURL),
            ("SIGIL_ADMIN_TOKEN", adminToken),
            ("SIGIL_AUDITOR_TOKEN", auditorToken),
            ("SIGIL_EDGE_ROLE_TOKEN", edgeRoleToken),
            ("SIGIL_TRUST_BUNDLE", trustBundle),
        ]
        values += DevConstellation.services.map { ($0.urlVariable, "http://127.0.0.1:\($0.port)") }
        values.append(("SIGIL_EDGE_PROXY", "http://127.0.0.1:\(DevConstellation.edgeProxyPort)"))
        // Further edges' proxies (`--replicas edge=N`): SIGIL_EDGE_PROXY_2, ...
        for member in DevConstellation.services where member.role == "edge" && replicas.count(of: member) > 1 {
            for replica in 2...replicas.count(of: member) {
                values.append(
                    (
                        "SIGIL_EDGE_PROXY_\(replica)",
                        "http://127.0.0.1:\(DevConstellation.edgeProxyPort(replica: replica))"
                    ))
            }
        }
        values.append(("SIGIL_EDGE_TOKEN_FILE", tokenFile))
        values.append(("SIGIL_AUDIT_FILE_DIR", auditFiles))
        try state.writeEnv(values)

        try await waitUntilReady(processes.processes)
        let count = processes.processes.filter { $0.port != nil }.count
        print("\nAll \(count) service processes are ready. Settings (admin token included): \(state.envFile)")
    }

    private func waitForBrokerAddress(state: DevState, pid: pid_t, logFile: String) async throws -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let address = try? String(contentsOfFile: state.brokerAddressFile, encoding: .utf8), !address.isEmpty {
                return address
            }
            guard ProcessLauncher.isAlive(pid) else {
                throw ReadinessProbe.exitedDuringStartUp("broker", logFile: logFile)
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ValidationError("the broker did not report its address within 30 s; see \(logFile)")
    }

    private func waitUntilReady(_ processes: [DevState.ManagedProcess]) async throws {
        let services = processes.filter { $0.port != nil }
        var pending = Set(services.map(\.name))
        let deadline = ContinuousClock.now + .seconds(timeout)
        print("waiting for readiness ...")
        while !pending.isEmpty {
            for service in services where pending.contains(service.name) {
                guard ProcessLauncher.isAlive(service.pid) else {
                    throw ReadinessProbe.exitedDuringStartUp(service.name, logFile: service.logFile)
                }
                if await ReadinessProbe.check(port: service.port!) == .ready {
                    pending.remove(service.name)
                    print("    \(service.name) ready")
                }
            }
            if pending.isEmpty { break }
            guard ContinuousClock.now < deadline else {
                throw ValidationError(
                    "not ready within \(timeout) s: \(pending.sorted().joined(separator: ", ")); logs in \(processes.first.map { URL(fileURLWithPath: $0.logFile).deletingLastPathComponent().path } ?? "")"
                )
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    private func step(_ text: String) {
        print("==> \(text)")
    }
}

/// Waits until SIGINT or SIGTERM.
struct WaitForSignal: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
