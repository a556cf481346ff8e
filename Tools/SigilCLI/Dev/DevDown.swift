import ArgumentParser
import Foundation
import SigilClient

/// `sigil dev down`: stops every process `dev up` started, by pid, and the PostgreSQL cluster.
struct DevDown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "down", abstract: "Stop the local constellation.")

    @OptionGroup var options: DevOptions

    func run() async throws {
        let state = DevState(directory: options.stateDirectory)
        guard state.loadProcesses() != nil else {
            print("nothing to stop in \(state.directory)")
            return
        }
        await Self.stopAll(state: state)
    }

    /// Services first (they flush to the broker), then the broker, then PostgreSQL.
    static func stopAll(state: DevState) async {
        guard let recorded = state.loadProcesses() else { return }
        let services = recorded.processes.filter { $0.name != "broker" }
        let brokers = recorded.processes.filter { $0.name == "broker" }
        for group in [services, brokers] where !group.isEmpty {
            let killed = await ProcessLauncher.stop(group.map(\.pid))
            for process in group {
                print(
                    "stopped \(process.name) (pid \(process.pid))\(killed.contains(process.pid) ? " with SIGKILL" : "")"
                )
            }
        }
        if let dataDirectory = recorded.postgresDataDirectory {
            do {
                try DevPostgresCluster(dataDirectory: dataDirectory, port: DevConstellation.postgresPort).stop()
                print("stopped PostgreSQL")
            } catch {
                print("PostgreSQL did not stop cleanly: \(error)")
            }
        }
        state.removeProcesses()
        // The processes' settings (their keys) go with them.
        try? FileManager.default.removeItem(atPath: "\(state.directory)/run")
    }
}
