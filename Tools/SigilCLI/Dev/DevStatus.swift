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
        print(
            "NAME".padding(toLength: 14, withPad: " ", startingAt: 0)
                + "PID".padding(toLength: 9, withPad: " ", startingAt: 0)
                + "PORT".padding(toLength: 7, withPad: " ", startingAt: 0) + "HEALTH")
        for process in recorded.processes {
            let alive = ProcessLauncher.isAlive(process.pid)
            var health = alive ? "running" : "stopped"
            if alive, let port = process.port {
                health = await ReadinessProbe.check(port: port).rawValue
            }
            if health != "running" && health != "ready" { healthy = false }
            print(
                process.name.padding(toLength: 14, withPad: " ", startingAt: 0)
                    + String(process.pid).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + (process.port.map(String.init) ?? "-").padding(toLength: 7, withPad: " ", startingAt: 0)
                    + health
            )
        }
        if let dataDirectory = recorded.postgresDataDirectory {
            let running = DevPostgresCluster(dataDirectory: dataDirectory, port: DevConstellation.postgresPort)
                .isRunning
            if !running { healthy = false }
            print(
                "postgres".padding(toLength: 14, withPad: " ", startingAt: 0)
                    + "-".padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(DevConstellation.postgresPort).padding(toLength: 7, withPad: " ", startingAt: 0)
                    + (running ? "running" : "stopped"))
        }
        if !healthy { throw ExitCode(1) }
    }
}
