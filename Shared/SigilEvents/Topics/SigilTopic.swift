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
    /// Signed audit chain heads (`AuditCheckpointed`), keyed by chain: compacted and kept forever.
    case auditCheckpoints = "audit.checkpoints"
    /// Edges asking for the leases whose access was withdrawn to end (`LeaseReleased`), keyed by lease. Last: a case
    /// added in the middle renumbers the others, and SwiftPM's incremental builds have been seen to keep stale
    /// numbers in dependent modules (a posture report went to `edge.activity`).
    case accessLeases = "access.leases"

    /// The work topics of the access flow: keyed by request id, their partition count is `SIGIL_TOPIC_PARTITIONS`.
    public static let accessTopics: [SigilTopic] = [.accessRequests, .accessAttested, .accessDecisions, .accessReplies]

    /// Partition count when nothing is configured. Access topics are keyed by request id and spread wide so
    /// services scale by replicas; replies are partitioned per edge.
    public var defaultPartitions: Int32 {
        switch self {
        case .config, .posture, .deadletter, .auditCheckpoints, .accessLeases: return 3
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
    /// `min.insync.replicas`: with `acks=all`, a write needs this many replicas (so losing one broker loses nothing).
    public var minInSyncReplicas: Int32

    public init(
        prefix: String = "sigil.", partitions: [SigilTopic: Int32] = [:], replicationFactor: Int32 = 1,
        minInSyncReplicas: Int32 = 1
    ) {
        self.prefix = prefix
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.minInSyncReplicas = minInSyncReplicas
    }

    public func name(_ topic: SigilTopic) -> String { prefix + topic.rawValue }

    public func topic(named name: String) -> SigilTopic? {
        guard name.hasPrefix(prefix) else { return nil }
        return SigilTopic(rawValue: String(name.dropFirst(prefix.count)))
    }

    /// How the topic is created. `sigil.config` is compacted and kept forever: it is the configuration's source of
    /// truth, and a service or edge started at any time must find every resource and the attestation keys there.
    /// `sigil.audit.checkpoints` too: the latest signed head of every audit chain must outlive any retention.
    public func specification(_ topic: SigilTopic) -> KafkaTopicSpecification {
        var configs = ["min.insync.replicas": String(minInSyncReplicas)]
        if topic == .config || topic == .auditCheckpoints {
            configs["cleanup.policy"] = "compact"
            configs["retention.ms"] = "-1"
        }
        // A destroyed data key's wrapped copy must really go: a superseded record is compacted away within a day.
        if topic == .config { configs["max.compaction.lag.ms"] = String(24 * 3_600_000) }
        // Posture: each subject's latest report (keyed by tenant, feed and subject) for a week — a report older than
        // that is stale for any policy (maxLastSeen is at most a day), so losing it fails closed.
        if topic == .posture {
            configs["cleanup.policy"] = "compact,delete"
            configs["retention.ms"] = String(7 * 24 * 3_600_000)
        }
        return KafkaTopicSpecification(
            name: name(topic),
            partitions: partitions[topic] ?? topic.defaultPartitions,
            replicationFactor: replicationFactor,
            configs: configs
        )
    }

    public var allSpecifications: [KafkaTopicSpecification] { SigilTopic.allCases.map(specification) }
}
