import ArgumentParser
import Foundation
import SigilClient

/// `sigil dev restart NAME`: one process of the local constellation stopped (or found dead) and started again with
/// the settings `dev up` gave it — to bring back a service that crashed, or to see what a restart does to leases,
/// partitions and sessions.
struct DevRestart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Stop one service process of the constellation and start it again with the same settings.",
        discussion: """
            Example: sigil dev restart sigil-issue        (names as `sigil dev status` lists them)
            With --kill the process gets SIGKILL, as a crash would, instead of SIGTERM and its graceful shutdown.
            """)

    @OptionGroup var options: DevOptions
    @Argument(help: "The process, e.g. sigil-issue, sigil-policy-2, sigil-edge-ci.") var name: String
    @Flag(help: "Stop it with SIGKILL (a crash) rather than SIGTERM.") var kill = false
    @Option(help: "Seconds to wait for it to be ready again.") var timeout = 60

    func run() async throws {
        let state = DevState(directory: options.stateDirectory)
        guard var processes = state.loadProcesses() else {
            throw ValidationError("no constellation runs from \(state.directory); run `sigil dev up` first")
        }
        guard let index = processes.processes.firstIndex(where: { $0.name == name }) else {
            let names = processes.processes.map(\.name).filter { $0 != "broker" }.joined(separator: ", ")
            throw ValidationError("no process named \(name) in \(state.directory); there are: \(names)")
        }
        var process = processes.processes[index]
        guard let executable = process.executable, let settingsFile = process.settingsFile else {
            throw ValidationError(
                "\(name) cannot be restarted (the broker, or started by an older sigil): `sigil dev down`, then `up`")
        }
        let settings = AdminClient.readEnvFile(settingsFile)
        guard !settings.isEmpty else { throw ValidationError("\(settingsFile) is missing or empty") }
        if ProcessLauncher.isAlive(process.pid) {
            if kill {
                Glibc.kill(process.pid, SIGKILL)
                for _ in 0..<100 where ProcessLauncher.isAlive(process.pid) {
                    try await Task.sleep(for: .milliseconds(50))
                }
            } else {
                _ = await ProcessLauncher.stop([process.pid])
            }
            print("stopped \(name) (pid \(process.pid))\(kill ? " with SIGKILL" : "")")
        }
        // The caller's environment without its own Sigil settings, then the process's.
        var environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("SIGIL_") }
        environment.merge(settings) { _, setting in setting }
        process.pid = try ProcessLauncher.launch(
            executable: executable, arguments: [], environment: environment, logFile: process.logFile)
        processes.processes[index] = process
        try state.save(processes)
        try await ReadinessProbe.waitUntilReady(process, timeout: timeout)
        print("\(name) started again (pid \(process.pid)) and ready")
    }
}
