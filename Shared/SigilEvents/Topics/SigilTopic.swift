import SigilKafka

/// Sigil's topics. Names and partition counts are configuration (`SigilTopics`); these are the roles.
public enum SigilTopic: String, Sendable, CaseIterable, Codable {
    case config
    case accessRequests = "access.requests"
    case accessAttested = "access.attested"
    case accessDecisions = "access.decisions"
    case accessReplies = "access.replies"
    case edgeActivity = "edge.activity"
    case posture
    case deadletter

    /// Partition count when nothing is configured. Access topics are keyed by request id and spread wide so
    /// services scale by replicas; replies are partitioned per edge.
    public var defaultPartitions: Int32 {
        switch self {
        case .config, .posture, .deadletter: return 3
        case .accessRequests, .accessAttested, .accessDecisions, .accessReplies: return 12
        case .edgeActivity: return 6
        }
    }
}

/// The concrete topic names and partition counts of one deployment.
public struct SigilTopics: Sendable, Hashable {
    /// Prepended to every role name; `sigil.` gives `sigil.config`, `sigil.access.requests`, ...
    public var prefix: String
    public var partitions: [SigilTopic: Int32]
    public var replicationFactor: Int32

    public init(prefix: String = "sigil.", partitions: [SigilTopic: Int32] = [:], replicationFactor: Int32 = 1) {
        self.prefix = prefix
        self.partitions = partitions
        self.replicationFactor = replicationFactor
    }

    public func name(_ topic: SigilTopic) -> String { prefix + topic.rawValue }

    public func topic(named name: String) -> SigilTopic? {
        guard name.hasPrefix(prefix) else { return nil }
        return SigilTopic(rawValue: String(name.dropFirst(prefix.count)))
    }

    public func specification(_ topic: SigilTopic) -> KafkaTopicSpecification {
        KafkaTopicSpecification(
            name: name(topic),
            partitions: partitions[topic] ?? topic.defaultPartitions,
            replicationFactor: replicationFactor
        )
    }

    public var allSpecifications: [KafkaTopicSpecification] { SigilTopic.allCases.map(specification) }
}
