import ArgumentParser
import SigilClient
import SigilEvents

/// `sigil deploy topics`: Sigil's topics with the settings the services create them with, for a Kafka init container
/// or for Strimzi.
struct DeployTopics: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable {
        case kafkaTopics = "kafka-topics"
        case strimzi
    }

    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "Print Sigil's topics as a kafka-topics.sh script or as Strimzi KafkaTopic resources.",
        discussion: """
            The compacted configuration topic, the work topics' partitions and the replication settings are the ones
            the services would use; deploy/compose/create-topics.sh and deploy/kubernetes/components/strimzi/topics.yaml
            are this command's output.
            """
    )

    @Option(help: "kafka-topics (a POSIX shell script) or strimzi (KafkaTopic YAML).") var format: Format
    @Option(help: "(strimzi) the Kafka resource's name.") var cluster = "sigil"
    @Option(help: "(strimzi) partitions of the access topics.") var partitions: Int32 = 12
    @Option(help: "(strimzi) replicas of every topic.") var replication: Int32 = 3
    @Option(help: "(strimzi) min.insync.replicas of every topic.") var minInsyncReplicas: Int32 = 2
    @Option(help: "(strimzi) prefix of every topic name.") var prefix = "sigil."

    func validate() throws {
        guard (1...10_000).contains(partitions) else { throw ValidationError("--partitions must be 1 to 10000") }
        guard (1...16).contains(replication), (1...replication).contains(minInsyncReplicas) else {
            throw ValidationError("--replication must be 1 to 16 and --min-insync-replicas 1 to --replication")
        }
    }

    func run() async throws {
        switch format {
        case .kafkaTopics:
            print(TopicManifests.kafkaTopicsScript(), terminator: "")
        case .strimzi:
            let topics = SigilTopics(
                prefix: prefix,
                partitions: Dictionary(uniqueKeysWithValues: SigilTopic.accessTopics.map { ($0, partitions) }),
                replicationFactor: replication, minInSyncReplicas: minInsyncReplicas)
            print(TopicManifests.strimziTopics(cluster: cluster, topics: topics), terminator: "")
        }
    }
}
