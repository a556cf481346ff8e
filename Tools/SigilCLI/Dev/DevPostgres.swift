import ArgumentParser
import Foundation

/// `sigil dev postgres start|stop`: the throwaway PostgreSQL cluster alone (what `make test` uses).
struct DevPostgres: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postgres",
        abstract: "Start or stop a throwaway PostgreSQL cluster; `start` prints its SIGIL_POSTGRES_URL.",
        subcommands: [Start.self, Stop.self]
    )

    struct Start: AsyncParsableCommand {
        @Option(help: "Data directory (created on first start).") var dataDirectory: String
        @Option(help: "Port on 127.0.0.1.") var port: Int = 7432

        func run() throws {
            let cluster = DevPostgresCluster(dataDirectory: absolute(dataDirectory), port: port)
            let password = try cluster.initializeIfNeeded()
            if !cluster.isRunning {
                try cluster.start(logFile: "\(cluster.dataDirectory).log")
            }
            try cluster.createDatabaseIfNeeded(password: password)
            print("SIGIL_POSTGRES_URL=\(cluster.url(password: password))")
        }
    }

    struct Stop: AsyncParsableCommand {
        @Option(help: "Data directory of the cluster to stop.") var dataDirectory: String

        func run() throws {
            try DevPostgresCluster(dataDirectory: absolute(dataDirectory), port: 0).stop()
        }
    }
}

func absolute(_ path: String) -> String {
    URL(fileURLWithPath: path).standardizedFileURL.path
}
