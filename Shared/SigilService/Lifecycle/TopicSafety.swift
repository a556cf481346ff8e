import Logging
import SigilKafka

/// The settings of Sigil's topics that lose data if wrong, checked at every start against what the cluster reports:
/// the configuration topic (and the audit checkpoints) compacted and never deleted by age, `min.insync.replicas` and
/// the replication factor at least what the deployment asks for (`SIGIL_TOPIC_REPLICATION`,
/// `SIGIL_TOPIC_MIN_INSYNC_REPLICAS`). A topic someone created by hand with the broker's defaults (7 days' retention,
/// one replica) would otherwise lose every resource a week later; the service refuses to run instead, naming the fix.
public enum TopicSafety {
    public struct Finding: Sendable, Equatable, CustomStringConvertible {
        public let topic: String
        public let problem: String
        public let fix: String
        public var description: String { "\(topic): \(problem); fix: \(fix)" }
    }

    /// The replication factor, from metadata: the partitions' replica count.
    public static func replicationFindings(_ specification: KafkaTopicSpecification, replicas: Int32) -> [Finding] {
        guard replicas < specification.replicationFactor else { return [] }
        return [
            Finding(
                topic: specification.name,
                problem: "\(replicas) replica(s) per partition, SIGIL_TOPIC_REPLICATION asks for "
                    + "\(specification.replicationFactor)",
                fix: "reassign its partitions to \(specification.replicationFactor) brokers "
                    + "(kafka-reassign-partitions.sh), or set SIGIL_TOPIC_REPLICATION to what the cluster has")
        ]
    }

    /// The topic-level settings the brokers report.
    public static func configFindings(_ specification: KafkaTopicSpecification, configs: [String: String]) -> [Finding]
    {
        let name = specification.name
        func alter(_ settings: String) -> String {
            "kafka-configs.sh --bootstrap-server <brokers> --alter --entity-type topics --entity-name \(name) "
                + "--add-config '\(settings)'"
        }
        var findings: [Finding] = []
        if specification.configs["cleanup.policy"] == "compact" {
            let policy = Set((configs["cleanup.policy"] ?? "delete").split(separator: ",").map(String.init))
            let retention = configs["retention.ms"] ?? "604800000"
            if !policy.contains("compact") || (policy.contains("delete") && retention != "-1") {
                findings.append(
                    Finding(
                        topic: name,
                        problem: "cleanup.policy is \(configs["cleanup.policy"] ?? "the broker's default")"
                            + " with retention.ms \(retention): records would be deleted by age",
                        fix: alter("cleanup.policy=compact,retention.ms=-1")))
            }
        }
        if let wanted = specification.configs["min.insync.replicas"].flatMap(Int.init),
            let actual = configs["min.insync.replicas"].flatMap(Int.init), actual < wanted
        {
            findings.append(
                Finding(
                    topic: name,
                    problem: "min.insync.replicas is \(actual), SIGIL_TOPIC_MIN_INSYNC_REPLICAS asks for \(wanted)",
                    fix: alter("min.insync.replicas=\(wanted)")))
        }
        return findings
    }

    /// Before a service is ready: every topic's replication, from metadata (answered by every broker at once).
    public static func checkReplication(
        _ specifications: [KafkaTopicSpecification], admin: KafkaAdmin
    ) async throws(KafkaError) -> [Finding] {
        let metadata = try await admin.metadata()
        // A topic the brokers do not list yet (a broker that creates topics on first use) cannot be judged here.
        return specifications.flatMap { specification in
            metadata.topic(specification.name).map { replicationFindings(specification, replicas: $0.replicas) } ?? []
        }
    }

    /// Once it runs: the topics' settings, when the brokers describe them (a real cluster answers in milliseconds;
    /// librdkafka's mock cluster never does, so this must not hold up start-up). Nil when they could not be read.
    public static func checkSettings(
        _ specifications: [KafkaTopicSpecification], admin: KafkaAdmin, logger: Logger
    ) async -> [Finding]? {
        do {
            // Short: the brokers answer at once or never, and a shutdown waits for this call.
            let configs = try await admin.topicConfigs(specifications.map(\.name), timeoutMilliseconds: 3_000)
            return specifications.flatMap { configFindings($0, configs: configs[$0.name] ?? [:]) }
        } catch {
            logger.notice(
                "the brokers did not describe the topics' settings; only replication was checked",
                metadata: ["error": "\(error)"])
            return nil
        }
    }
}

/// Start-up refused: topics whose settings would lose data. Not retried.
public struct UnsafeTopicSettings: Error, CustomStringConvertible {
    public let findings: [TopicSafety.Finding]
    public var description: String {
        "unsafe topic settings, refusing to run: " + findings.map(\.description).joined(separator: "; ")
    }
}
