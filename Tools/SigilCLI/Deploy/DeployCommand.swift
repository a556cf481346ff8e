import ArgumentParser

/// `sigil deploy`: what a docker-compose or Kubernetes deployment needs that must not be committed or hand-written.
struct DeployCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deploy",
        abstract: "Prepare a deployment: its secrets (`init`), its Kafka topics (`topics`) and users (`kafka-users`).",
        subcommands: [DeployInit.self, DeployTopics.self, DeployKafkaUsers.self]
    )
}
