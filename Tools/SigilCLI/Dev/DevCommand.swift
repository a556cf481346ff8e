import ArgumentParser

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Run the whole constellation on this machine: broker, PostgreSQL and the five services.",
        subcommands: [
            DevUp.self, DevStatus.self, DevDown.self, DevRestart.self, DevEdge.self, DevBroker.self, DevPostgres.self,
        ]
    )
}

/// Options every `dev` command shares.
struct DevOptions: ParsableArguments {
    @Option(help: "Where the local constellation keeps its state, logs and env file.")
    var stateDirectory: String = ".sigil/dev"
}
