import ArgumentParser
import SigilClient

/// `sigil deploy kafka-users`: one Kafka principal per service role with only the ACLs its flows need, for the compose
/// file's Kafka init container or for Strimzi.
struct DeployKafkaUsers: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case kafkaACLs = "kafka-acls"
        case strimzi
    }

    static let configuration = CommandConfiguration(
        commandName: "kafka-users",
        abstract: "Print each service role's Kafka user and ACLs as a script or as Strimzi KafkaUser resources.",
        discussion: """
            The ACLs are the topics each role reads and writes (and nothing else): a service cannot put even a forged
            event on a topic it does not produce. deploy/compose/kafka-users.sh and
            deploy/kubernetes/components/strimzi/users.yaml are this command's output.
            """
    )

    @Option(help: "kafka-acls (a POSIX shell script) or strimzi (KafkaUser YAML).") var format: Format
    @Option(help: "(strimzi) the Kafka resource's name.") var cluster = "sigil"
    @Option(help: "(strimzi) prefix of every topic name.") var prefix = "sigil."

    func run() async throws {
        switch format {
        case .kafkaACLs: print(KafkaUserManifests.kafkaACLsScript(), terminator: "")
        case .strimzi: print(KafkaUserManifests.strimziUsers(cluster: cluster, prefix: prefix), terminator: "")
        }
    }
}
