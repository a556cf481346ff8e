/// Which of Sigil's topics each service role reads and writes: the least its Kafka principal needs, and the one
/// table the deployment files' ACLs come from (`sigil deploy kafka-users`: Strimzi KafkaUsers, and the script the
/// compose file's Kafka init runs). A role that may not write a topic cannot put even a forged event on it.
public enum TopicAccess {
    public enum Use: Sendable, Equatable {
        case read, write, readWrite

        /// Kafka ACL operations: Describe (metadata) and DescribeConfigs (the topic settings check at start) always.
        public var operations: [String] {
            switch self {
            case .read: ["Describe", "DescribeConfigs", "Read"]
            case .write: ["Describe", "DescribeConfigs", "Write"]
            case .readWrite: ["Describe", "DescribeConfigs", "Read", "Write"]
            }
        }
    }

    /// Consumer groups are named `sigil-<service>-<worker>` (and assign-mode readers `sigil-assign-<client>`).
    public static let groupPrefix = "sigil-"

    public static func uses(of role: ServiceRole) -> [(topic: SigilTopic, use: Use)] {
        switch role {
        case .attest:
            // Trust providers and attestation keys are its configuration; requests in, attestations and refusals out.
            [
                (.config, .readWrite), (.accessRequests, .read), (.accessAttested, .write), (.accessReplies, .write),
                (.deadletter, .write),
            ]
        case .policy:
            // Server workloads and policies are its configuration; it pulls posture feeds onto `posture`.
            [
                (.config, .readWrite), (.accessAttested, .read), (.accessDecisions, .write), (.accessReplies, .write),
                (.posture, .readWrite), (.deadletter, .write),
            ]
        case .issue:
            // Credential providers, tenant keys and leases; credentials and lease events go to the edge's reply
            // partition; edges ask for withdrawn leases to end on `access.leases`.
            [
                (.config, .readWrite), (.accessDecisions, .read), (.accessReplies, .write), (.accessLeases, .read),
                (.deadletter, .write),
            ]
        case .audit:
            // Reads every topic; log streams are its configuration; signs chain checkpoints.
            SigilTopic.allCases.map { topic in
                switch topic {
                case .config, .deadletter, .auditCheckpoints: (topic, .readWrite)
                default: (topic, .read)
                }
            }
        case .edge:
            // Reads configuration, its reply partition and posture; writes requests, activity and lease releases.
            [
                (.config, .read), (.accessRequests, .write), (.accessReplies, .read), (.accessLeases, .write),
                (.edgeActivity, .write), (.posture, .read),
            ]
        }
    }

    /// What the role's service is, for comments in generated files.
    public static func purpose(of role: ServiceRole) -> String {
        switch role {
        case .attest: "identity attestation"
        case .policy: "policy decision"
        case .issue: "credential issuance"
        case .audit: "audit ingestion: reads every topic"
        case .edge: "edges: request, read their reply partition and configuration, report activity"
        }
    }
}
