import Foundation
import SigilService
import Testing

@Suite("Service configuration")
struct ServiceConfigurationTests {
    let definition = SigilServiceDefinition(
        executable: "sigil-test", component: "test", summary: "test", defaultPort: 7199, schema: nil, topics: []
    )

    @Test("defaults apply when nothing is set")
    func defaults() async throws {
        let configuration = try await ServiceConfiguration.load(service: definition, environment: [:])
        #expect(configuration.httpPort == 7199)
        #expect(configuration.kafkaBrokers == "127.0.0.1:9092")
        #expect(configuration.topics.name(.config) == "sigil.config")
        #expect(configuration.logFormat == .console)
        #expect(configuration.adminToken == nil)
    }

    @Test("environment variables are read, Kafka properties parsed")
    func environment() async throws {
        let configuration = try await ServiceConfiguration.load(
            service: definition,
            environment: [
                "SIGIL_HTTP_PORT": "8080",
                "SIGIL_KAFKA_BROKERS": "kafka-1:9092,kafka-2:9092",
                "SIGIL_TOPIC_PREFIX": "prod.sigil.",
                "SIGIL_TOPIC_PARTITIONS": "48",
                "SIGIL_LOG_FORMAT": "json",
                "SIGIL_KAFKA_PROPERTIES": "security.protocol=SASL_SSL; sasl.mechanism=SCRAM-SHA-512",
            ]
        )
        #expect(configuration.httpPort == 8080)
        #expect(configuration.kafkaBrokers == "kafka-1:9092,kafka-2:9092")
        #expect(configuration.topics.name(.accessReplies) == "prod.sigil.access.replies")
        #expect(configuration.topics.specification(.accessRequests).partitions == 48)
        #expect(configuration.logFormat == .json)
        #expect(configuration.kafkaProperties == ["security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512"])
    }

    @Test("the file named by SIGIL_CONFIG_FILE fills in what the environment does not set")
    func fileFallback() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-\(UUID()).env")
        try "SIGIL_HTTP_PORT=9000\nSIGIL_KAFKA_BROKERS=from-file:9092\n".write(
            to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let configuration = try await ServiceConfiguration.load(
            service: definition,
            environment: ["SIGIL_CONFIG_FILE": file.path, "SIGIL_HTTP_PORT": "9100"]
        )
        #expect(configuration.httpPort == 9100)
        #expect(configuration.kafkaBrokers == "from-file:9092")
    }

    @Test("unusable values are refused with the key named and the value withheld")
    func refusals() async throws {
        let cases: [([String: String], String)] = [
            (["SIGIL_HTTP_PORT": "seventy"], "SIGIL_HTTP_PORT"),
            (["SIGIL_HTTP_PORT": "70000"], "SIGIL_HTTP_PORT"),
            (["SIGIL_LOG_FORMAT": "xml"], "SIGIL_LOG_FORMAT"),
            (["SIGIL_ADMIN_TOKEN": "short-secret"], "SIGIL_ADMIN_TOKEN"),
            (["SIGIL_KAFKA_PROPERTIES": "novalue"], "SIGIL_KAFKA_PROPERTIES"),
            (["SIGIL_CONFIG_FILE": "/nonexistent/sigil.env"], "SIGIL_CONFIG_FILE"),
        ]
        for (environment, key) in cases {
            do {
                _ = try await ServiceConfiguration.load(service: definition, environment: environment)
                Issue.record("\(key) accepted")
            } catch let error as ConfigurationError {
                #expect(error.key == key)
                #expect(!error.description.contains("short-secret"))
            } catch {
                #expect(key == "SIGIL_CONFIG_FILE", "unexpected \(error)")
            }
        }
    }
}
