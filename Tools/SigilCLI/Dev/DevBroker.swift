import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SigilEvents
import SigilKafka

/// `sigil dev broker`: hosts librdkafka's mock cluster (real Kafka protocol on loopback, in memory) with Sigil's
/// topics created, prints its bootstrap address, and runs until SIGTERM or SIGINT.
struct DevBroker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "broker",
        abstract: "Host an in-memory Kafka-protocol broker (librdkafka's mock cluster) with Sigil's topics."
    )

    @Option(help: "Number of brokers in the mock cluster.") var brokers: Int = 1
    @Option(help: "Also write the bootstrap address to this file (once the topics exist).") var addressFile: String?
    @Option(help: "Topic name prefix.") var topicPrefix: String =
        ProcessInfo.processInfo.environment["SIGIL_TOPIC_PREFIX"] ?? "sigil."
    @Option(help: "Partitions of the access topics.") var accessPartitions: Int32 = 12

    func run() async throws {
        let logger = Logger(label: "sigil.dev.broker")
        let cluster = try KafkaMockCluster(brokers: brokers, logger: logger)
        var partitions: [SigilTopic: Int32] = [:]
        for topic in SigilTopic.accessTopics {
            partitions[topic] = accessPartitions
        }
        let topics = SigilTopics(prefix: topicPrefix, partitions: partitions)
        for specification in topics.allSpecifications {
            try cluster.createTopic(specification)
        }
        print("SIGIL_KAFKA_BROKERS=\(cluster.bootstrapServers)")
        if let addressFile {
            try cluster.bootstrapServers.write(toFile: addressFile, atomically: true, encoding: .utf8)
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [HostedCluster(cluster: cluster)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        try await group.run()
    }

    /// Keeps the cluster alive until shutdown.
    struct HostedCluster: Service {
        let cluster: KafkaMockCluster
        func run() async throws {
            try? await gracefulShutdown()
            withExtendedLifetime(cluster) {}
        }
    }
}
