import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilProjection
import SigilService
import SigilTestSupport
import Testing

@testable import AuditIngestion

/// Log streams to services over the network: Splunk HEC, webhooks, S3 (moto), another Kafka cluster.
extension LogStreamDeliveryTests {
    @Test("Splunk HEC with acknowledgements and a signed webhook get every record; a webhook down for a while gets all")
    func deliveredOverHTTP() async throws {
        let receiver = HTTPLogReceiver(token: "hec-" + UUID().uuidString, secret: "whsec-" + UUID().uuidString)
        let kek = try KeyEncryptionKey(keyID: "audit-kek-test", material: Array(repeating: 7, count: 32))
        let secrets = LogStreamSecrets(kek: kek)
        @Sendable func encrypted(_ value: String, stream: String, field: String) throws -> EncryptedValue {
            try kek.derivedDataKey(tenant: "acme", purpose: LogStreamSecrets.purpose)
                .encrypt(Array(value.utf8), field: LogStreamSecrets.field(stream: stream, field))
        }
        let server = receiver.application()
        try await withThrowingTaskGroup(of: Void.self) { serving in
            serving.addTask { try await server.runService() }
            defer { serving.cancelAll() }
            try await Self.waitUntil("the receiver to listen") { receiver.port != nil }
            let port = try #require(receiver.port)
            try await TestPostgres.withClient { postgres in
                let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
                let hec = Self.stream(
                    "splunk",
                    LogStreamSpec(
                        destination: .splunkHEC(
                            .init(
                                url: "http://127.0.0.1:\(port)",
                                tokenEncrypted: try encrypted(receiver.token, stream: "splunk", field: "token"),
                                acknowledgements: true, index: "security")),
                        format: .ocsf))
                let webhook = Self.stream(
                    "webhook",
                    LogStreamSpec(
                        destination: .webhook(
                            .init(
                                url: "http://127.0.0.1:\(port)/webhook",
                                secretEncrypted: try encrypted(receiver.secret, stream: "webhook", field: "secret"))),
                        format: .json))
                let first = try await log.publish(120, topic: topic)
                try await log.whileDelivering([hec, webhook], environment: LogSenderEnvironment(secrets: secrets)) {
                    let ids = first.created + first.deleted
                    try await Self.waitUntil("the collector and the webhook to hold every record") {
                        let hecText = receiver.hecText
                        let webhookText = receiver.webhookText
                        return ids.allSatisfy {
                            hecText.contains("\"uid\":\"\($0)\"") && webhookText.contains("\"id\":\"\($0)\"")
                        }
                    }
                    #expect(receiver.problems.isEmpty, "\(receiver.problems)")
                    #expect(
                        receiver.hecText.contains("\"index\":\"security\"")
                            && receiver.hecText.contains("\"sourcetype\":\"ocsf\""))

                    // Down: both refuse for a while; what is published meanwhile arrives once they are back.
                    receiver.refuse(true)
                    let second = try await log.publish(60, topic: topic)
                    let progress = LogStreamProgress(
                        webhook, schema: log.schema, postgres: postgres, owner: "replica-1")
                    try await Self.waitUntil("the webhook stream to report the 503") {
                        let status = try await progress.status(destination: "", format: "", logger: logger)
                        return status.lastError?.contains("503") == true && status.lagRecords > 0
                    }
                    receiver.refuse(false)
                    try await Self.waitUntil("both to get what they missed", timeout: .seconds(60)) {
                        let hecText = receiver.hecText
                        let webhookText = receiver.webhookText
                        return (second.created + second.deleted).allSatisfy {
                            hecText.contains("\"uid\":\"\($0)\"") && webhookText.contains("\"id\":\"\($0)\"")
                        }
                    }
                    #expect(receiver.problems.isEmpty, "\(receiver.problems)")
                    #expect(!receiver.deliveries.contains(""))
                    // No secret in the stream's stored state or the service's view of it.
                    let state = try await postgres.query(
                        PostgresQuery(unsafeSQL: "SELECT t::text FROM \(log.schema.rawValue).log_stream_state t"))
                    for try await row in state.decode(String.self) {
                        #expect(!row.contains(receiver.token) && !row.contains(receiver.secret))
                    }
                }
                try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
            }
        }
    }

    static var peer: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Receivers/s3_peer.py").path
    }

    @Test("SigV4: the same request signed as botocore signs it")
    func sigV4MatchesBotocore() async throws {
        let payload = Array("{\"id\":\"x\"}\n".utf8)
        let destination = S3Destination(
            bucket: "audit-logs", prefix: "sigil/", region: "eu-west-1", endpoint: "http://127.0.0.1:9000",
            accessKeyID: "AKIDEXAMPLE", windowSeconds: 60)
        let (url, host, path) = destination.location(key: "sigil/acme/2026/11/26/a b+c.jsonl.gz")
        let date = Date(timeIntervalSince1970: 1_795_600_000)
        let headers = SigV4Signer(
            accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG", region: "eu-west-1"
        )
        .sign(method: "PUT", host: host, path: path, payload: payload, date: date)
        let ours = try #require(headers.first { $0.0 == "Authorization" }?.1)
        let hex = payload.map { String(format: "%02x", $0) }.joined()
        let reference = try await RsyslogReceiver.shell(
            "python3 '\(Self.peer)' sign PUT '\(url)' \(hex) AKIDEXAMPLE 'wJalrXUtnFEMI/K7MDENG' eu-west-1 1795600000")
        #expect(ours == reference.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(url == "http://127.0.0.1:9000/audit-logs/sigil/acme/2026/11/26/a%20b%2Bc.jsonl.gz")
    }

    @Test("S3 (moto's server): gzip JSON-lines objects per window hold every record")
    func deliveredToS3() async throws {
        let port = try RsyslogReceiver.freePort()
        let endpoint = "http://127.0.0.1:\(port)"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["moto_server", "-H", "127.0.0.1", "-p", String(port)]
        server.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        server.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL) }
        try RsyslogReceiver.waitForListener(port: port)
        try await RsyslogReceiver.shell("python3 '\(Self.peer)' create-bucket \(endpoint) audit-logs")
        let kek = try KeyEncryptionKey(keyID: "audit-kek-test", material: Array(repeating: 9, count: 32))
        let secret = try kek.derivedDataKey(tenant: "acme", purpose: LogStreamSecrets.purpose)
            .encrypt(Array("moto-secret".utf8), field: LogStreamSecrets.field(stream: "s3", "secretAccessKey"))
        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let s3 = Self.stream(
                "s3",
                LogStreamSpec(
                    destination: .s3(
                        .init(
                            bucket: "audit-logs", prefix: "sigil/", region: "us-east-1", endpoint: endpoint,
                            accessKeyID: "AKIDSIGILTEST", secretAccessKeyEncrypted: secret, windowSeconds: 1)),
                    format: .json))
            let published = try await log.publish(150, topic: topic)
            try await log.whileDelivering([s3], environment: LogSenderEnvironment(secrets: LogStreamSecrets(kek: kek)))
            {
                let ids = published.created + published.deleted
                try await Self.waitUntil("the bucket to hold every record", timeout: .seconds(60)) {
                    let stored = try await RsyslogReceiver.shell(
                        "python3 '\(Self.peer)' records \(endpoint) audit-logs sigil/acme/")
                    return ids.allSatisfy(stored.contains)
                }
            }
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }
    }

    @Test("Kafka: a topic on another cluster gets every record, keyed by chain, acknowledged")
    func deliveredToKafka() async throws {
        let external = try KafkaMockCluster(logger: logger)
        try external.createTopic(.init(name: "siem-audit", partitions: 2))
        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let kafka = Self.stream(
                "kafka",
                LogStreamSpec(
                    destination: .kafka(
                        .init(brokers: external.bootstrapServers, topic: "siem-audit", securityProtocol: .plaintext)
                    ),
                    format: .cef))
            let published = try await log.publish(90, topic: topic)
            let consumer = try KafkaConsumer(
                configuration: .init(
                    client: .init(bootstrapServers: external.bootstrapServers, clientID: "siem"),
                    mode: .assign((0..<2).map { .init(topic: "siem-audit", partition: $0, offset: .beginning) })),
                logger: logger)
            try await log.whileDelivering([kafka]) {
                var received = ""
                let ids = published.created + published.deleted
                let deadline = ContinuousClock.now + .seconds(30)
                while !ids.allSatisfy(received.contains), ContinuousClock.now < deadline {
                    guard let batch = try await consumer.nextBatch() else { break }
                    for message in batch {
                        received += String(decoding: message.value, as: UTF8.self) + "\n"
                        #expect(
                            message.key.map { String(decoding: $0, as: UTF8.self).hasPrefix("acme/events/") } == true)
                    }
                }
                #expect(ids.allSatisfy { received.contains("externalId=\($0)") })
            }
            await consumer.close()
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }
    }
}
