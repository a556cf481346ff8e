import SigilEvents
import SigilKafka
import Testing

@testable import SigilService

@Suite("Topic safety: settings that would lose configuration are refused at start, with the fix")
struct TopicSafetyTests {
    let topics = SigilTopics(replicationFactor: 3, minInSyncReplicas: 2)

    @Test("the configuration topic as Sigil creates it is safe")
    func safe() {
        let config = topics.specification(.config)
        #expect(TopicSafety.replicationFindings(config, replicas: 3).isEmpty)
        #expect(
            TopicSafety.configFindings(
                config, configs: ["cleanup.policy": "compact", "retention.ms": "-1", "min.insync.replicas": "2"]
            ).isEmpty)
        // compact,delete is safe only when nothing is deleted by age.
        #expect(
            TopicSafety.configFindings(
                config, configs: ["cleanup.policy": "compact,delete", "retention.ms": "-1", "min.insync.replicas": "3"]
            ).isEmpty)
    }

    @Test("a configuration topic made with the broker's defaults is refused, naming kafka-configs.sh")
    func brokerDefaults() throws {
        let config = topics.specification(.config)
        let findings = TopicSafety.configFindings(
            config, configs: ["cleanup.policy": "delete", "retention.ms": "604800000", "min.insync.replicas": "1"])
        #expect(findings.count == 2)
        let retention = try #require(findings.first)
        #expect(retention.topic == "sigil.config" && retention.problem.contains("deleted by age"))
        #expect(
            retention.fix.contains("--entity-name sigil.config --add-config 'cleanup.policy=compact,retention.ms=-1'"))
        #expect(findings.last?.fix.contains("min.insync.replicas=2") == true)
        // compact,delete with a finite retention deletes old resources too.
        #expect(
            TopicSafety.configFindings(
                config, configs: ["cleanup.policy": "compact,delete", "retention.ms": "86400000"]
            ).count == 1)
    }

    @Test("fewer replicas than SIGIL_TOPIC_REPLICATION is refused; work topics are not required to be compacted")
    func replication() {
        let requests = topics.specification(.accessRequests)
        let findings = TopicSafety.replicationFindings(requests, replicas: 1)
        #expect(findings.count == 1 && findings[0].problem.contains("SIGIL_TOPIC_REPLICATION asks for 3"))
        #expect(
            TopicSafety.configFindings(
                requests,
                configs: ["cleanup.policy": "delete", "retention.ms": "604800000", "min.insync.replicas": "2"]
            ).isEmpty)
        #expect(UnsafeTopicSettings(findings: findings).description.hasPrefix("unsafe topic settings, refusing to run"))
    }
}
