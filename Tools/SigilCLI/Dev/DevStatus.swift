import ArgumentParser
import Foundation
import SigilClient

/// `sigil dev status`: each process of the local constellation, whether it runs, and its readiness.
struct DevStatus: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each process of the local constellation and its health; exit 1 unless all are healthy."
    )

    @OptionGroup var options: DevOptions

    func run() async throws {
        let state = DevState(directory: options.stateDirectory)
        guard let recorded = state.loadProcesses() else {
            print("no local constellation in \(state.directory); start one with `sigil dev up`")
            throw ExitCode(1)
        }
        var healthy = true
        func row(_ columns: [String]) {
            let widths = [16, 10, 9, 7, 7]
            let padded = zip(columns.dropLast(), widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
            print(padded.joined() + columns.last!)
        }
        row(["NAME", "INSTANCE", "PID", "PORT", "PROXY", "HEALTH"])
        for process in recorded.processes {
            let alive = ProcessLauncher.isAlive(process.pid)
            var health = alive ? "running" : "stopped"
            if alive, let port = process.port {
                health = await ReadinessProbe.check(port: port).rawValue
            }
            if health != "running" && health != "ready" { healthy = false }
            row([
                process.name, process.instance ?? "-", String(process.pid), process.port.map(String.init) ?? "-",
                process.proxyPort.map(String.init) ?? "-", health,
            ])
        }
        if let dataDirectory = recorded.postgresDataDirectory {
            let running = DevPostgresCluster(dataDirectory: dataDirectory, port: DevConstellation.postgresPort)
                .isRunning
            if !running { healthy = false }
            row(["postgres", "-", "-", String(DevConstellation.postgresPort), "-", running ? "running" : "stopped"])
        }
        if !healthy { throw ExitCode(1) }
    }
}
