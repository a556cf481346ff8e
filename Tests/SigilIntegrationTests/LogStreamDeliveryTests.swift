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

/// Log streams against real receivers: rsyslog over TCP (RFC 5424, octet counting), over TLS (gnutls, CEF) and over
/// UDP; files in JSON and OCSF. Records come from a real audit projection (mock broker, real PostgreSQL).
@Suite("Log streams: delivered to rsyslog and files, every record at least once, through an outage")
struct LogStreamDeliveryTests {
    let logger = Logger(label: "test.log-streams")
    let topic = "events"

    /// An audit log in a fresh schema, fed from a mock broker by a running projection.
    final class AuditLog: Sendable {
        let cluster: KafkaMockCluster
        let producer: KafkaProducer
        let schema: SchemaName
        let runner: ProjectionRunner

        init(postgres: PostgresClient, topic: String, logger: Logger) async throws {
            cluster = try KafkaMockCluster(logger: logger)
            try cluster.createTopic(.init(name: topic, partitions: 2))
            try cluster.createTopic(.init(name: "deadletter", partitions: 1))
            let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "test")
            producer = try KafkaProducer(configuration: .init(client: client), logger: logger)
            schema = TestPostgres.uniqueSchema("audit")
            try await MigrationRunner(schema: schema, migrations: SigilServiceDefinition.auditIngestion.migrations)
                .apply(on: postgres, logger: logger)
            var configuration = ProjectionRunner.Configuration(
                topics: [topic], kafka: client, deadLetterTopic: "deadletter")
            configuration.fetchWaitMaxMilliseconds = 5
            runner = ProjectionRunner(
                projection: AuditProjection(schema: schema, postgres: postgres), schema: schema,
                configuration: configuration, postgres: postgres, producer: producer,
                admin: try KafkaAdmin(configuration: client, logger: logger),
                source: EventSource(service: "audit", instance: "test"), logger: logger)
        }

        /// Publishes `count` events of the tenant, then four of an access flow; returns the first ones' ids. Every
        /// third is a TenantDeleted (filtered out by streams that ask for TenantCreated only).
        func publish(_ count: Int, topic: String) async throws -> (created: [String], deleted: [String]) {
            var created: [String] = []
            var deleted: [String] = []
            for index in 0..<count {
                let source = EventSource(service: "issue", instance: "1")
                let event =
                    index % 3 == 2
                    ? try TenantDeleted().cloudEvent(source: source, tenant: "acme", partitionKey: "k\(index)")
                    : try TenantCreated(displayName: "t \"\(index)\" ] = | \\").cloudEvent(
                        source: source, tenant: "acme", partitionKey: "k\(index)", subject: "s\(index) \"q\" ]x= |y\\")
                if event.type == TenantDeleted.eventType { deleted.append(event.id) } else { created.append(event.id) }
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            // And one access flow's records, for the OCSF classes of attestation and decisions.
            let target = AccessTarget(scheme: "https", host: "api.internal", port: 443)
            let reply = ReplyAddress(edgeID: "edge-1", partition: 0, publicKey: [1, 2, 3])
            let deadline = Deadline(milliseconds: 1_900_000_000_000)
            let reason = RefusalReason(code: "no-matching-policy", detail: "no policy")
            let flow: [(any EventPayload, String)] = [
                (
                    IdentityAttested(
                        requestID: "r", target: target, reply: reply, clientWorkload: "billing",
                        trustProvider: "cluster", claims: [:], deadline: deadline), "attest"
                ),
                (AttestationFailed(requestID: "r2", target: target, reason: reason), "attest"),
                (
                    AccessGranted(
                        requestID: "r", target: target, reply: reply, clientWorkload: "billing",
                        serverWorkload: "api", accessPolicy: "p", credentialProvider: "key", ttlSeconds: 300,
                        deadline: deadline), "policy"
                ),
                (AccessDenied(requestID: "r3", target: target, clientWorkload: "billing", reason: reason), "policy"),
            ]
            for (payload, service) in flow {
                let event = try payload.cloudEvent(
                    source: EventSource(service: service, instance: "1"), tenant: "acme", partitionKey: "r")
                _ = try await producer.sendAndAwait(event.kafkaMessage(topic: topic))
            }
            return (created, deleted)
        }
    }

    static func stream(_ name: String, _ spec: LogStreamSpec) -> Resource<LogStreamSpec> {
        Resource(
            metadata: ResourceMetadata(
                name: name, tenant: "acme", labels: [:], uid: UUID().uuidString, resourceVersion: "1", generation: 1,
                createdAt: Date(), updatedAt: Date(), createdBy: "test"),
            spec: spec)
    }

    static func waitUntil(
        _ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
    }

    @Test(
        "rsyslog over TCP and TLS, UDP and files get every record in their format; a receiver down for a while gets all"
    )
    func deliveredToReceivers() async throws {
        let certificates = FileManager.default.temporaryDirectory.appendingPathComponent("certs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: certificates, withIntermediateDirectories: true)
        let ca = try RsyslogReceiver.makeCertificates(in: certificates)
        let tcp = try RsyslogReceiver()
        let tls = try RsyslogReceiver(tls: true)
        for file in ["ca.pem", "server.pem", "server.key"] {
            try FileManager.default.copyItem(
                at: certificates.appendingPathComponent(file), to: tls.directory.appendingPathComponent(file))
        }
        try tcp.start()
        try tls.start()
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("audit-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        defer {
            tcp.stop()
            tls.stop()
        }

        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let onlyCreated = LogFilter(eventTypes: [TenantCreated.eventType.description])
            let streams = [
                Self.stream(
                    "syslog-tcp",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .tcp, host: "127.0.0.1", port: tcp.port)),
                        format: .rfc5424, filter: onlyCreated)),
                Self.stream(
                    "syslog-tls",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .tls, host: "127.0.0.1", port: tls.port, ca: ca)),
                        format: .cef)),
                Self.stream(
                    "syslog-udp",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .udp, host: "127.0.0.1", port: tcp.port)),
                        format: .json)),
                Self.stream(
                    "file-json",
                    LogStreamSpec(
                        destination: .file(.init(path: "json/audit.jsonl", maxBytes: 64 * 1024, keep: 50)),
                        format: .json)),
                Self.stream(
                    "file-ocsf",
                    LogStreamSpec(
                        destination: .file(.init(path: "audit.ocsf.jsonl", maxBytes: 1 << 30, keep: 1)), format: .ocsf)
                ),
            ]
            let index = ResourceIndex<LogStreamSpec>()
            for stream in streams { index.define(stream) }
            let delivery = LogStreamDelivery(
                streams: index, postgres: postgres, schema: log.schema, owner: "replica-1",
                environment: LogSenderEnvironment(fileDirectory: files.path),
                logger: logger)
            let first = try await log.publish(300, topic: topic)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await log.runner.run() }
                group.addTask { try await delivery.run() }
                defer { group.cancelAll() }

                func received(_ receiver: RsyslogReceiver, _ ids: [String], marker: (String) -> String) -> Bool {
                    let text = receiver.lines.joined(separator: "\n")
                    return ids.allSatisfy { text.contains(marker($0)) }
                }
                func fileText(_ path: String) -> String {
                    let names =
                        (try? FileManager.default.contentsOfDirectory(
                            atPath: files.appendingPathComponent(path).deletingLastPathComponent().path)) ?? []
                    let base = (path as NSString).lastPathComponent
                    return names.filter { $0.hasPrefix(base) }.compactMap {
                        try? String(
                            contentsOf: files.appendingPathComponent(path).deletingLastPathComponent()
                                .appendingPathComponent($0), encoding: .utf8)
                    }.joined()
                }
                let all = first.created + first.deleted
                try await Self.waitUntil("rsyslog over TCP to get every TenantCreated") {
                    received(tcp, first.created) { "id=\"\($0)\"" }
                }
                try await Self.waitUntil("rsyslog over TLS to get every record") {
                    received(tls, all) { "externalId=\($0)" }
                }
                try await Self.waitUntil("the files to hold every record") {
                    let json = fileText("json/audit.jsonl")
                    let ocsf = fileText("audit.ocsf.jsonl")
                    return all.allSatisfy { json.contains("\"id\":\"\($0)\"") && ocsf.contains("\"uid\":\"\($0)\"") }
                }
                // The filter held: no TenantDeleted went to the TCP stream (the JSON lines are the UDP stream's).
                let structured = tcp.lines.filter { $0.contains("[sigil@32473 ") }
                #expect(!first.deleted.contains { id in structured.contains { $0.contains(id) } })
                // RFC 5424 fields arrived parsed: MSGID, APP-NAME, structured data with escaped values.
                let line = try #require(tcp.lines.first { $0.contains("id=\"\(first.created[0])\"") })
                #expect(line.hasPrefix("tenant-changed sigil [sigil@32473 tenant=\"acme\""), "\(line)")
                #expect(line.contains("type=\"\(TenantCreated.eventType)\""))
                #expect(line.contains(#"subject="s0 \"q\" \]x= |y\\""#), "\(line)")
                // CEF: header escaped, extension values escaped.
                let cef = try #require(tls.lines.first { $0.contains("externalId=\(first.created[0])") })
                #expect(cef.contains("CEF:0|Sigil|Sigil|0.2|\(TenantCreated.eventType)|tenant-changed|3|"), "\(cef)")
                #expect(cef.contains(#"msg=s0 "q" ]x\= |y\\ "#), "\(cef)")
                // UDP arrived too (no guarantee on the wire; on loopback every datagram does).
                try await Self.waitUntil("rsyslog over UDP to get records") {
                    tcp.lines.contains { $0.contains("\"id\":\"\(first.deleted[0])\"") }
                }
                // The JSON file rotated (64 KiB) and kept every record across its files, once or more.
                let rotated = try FileManager.default.contentsOfDirectory(
                    atPath: files.appendingPathComponent("json").path)
                #expect(rotated.contains("audit.jsonl.1"), "\(rotated)")
                let permissions =
                    try FileManager.default.attributesOfItem(
                        atPath: files.appendingPathComponent("json/audit.jsonl.1").path)[.posixPermissions] as? Int
                #expect(permissions == 0o600)

                // Outage: the TCP receiver stops; records published meanwhile wait; it comes back and gets them.
                tcp.stop()
                let second = try await log.publish(90, topic: topic)
                let progress = LogStreamProgress(
                    schema: log.schema, postgres: postgres, tenant: "acme", streamUID: streams[0].metadata.uid,
                    name: "syslog-tcp", owner: "replica-1")
                try await Self.waitUntil("the TCP stream to report its failure and lag") {
                    let status = try await progress.status(destination: "", format: "", logger: logger)
                    return status.lastError != nil && status.lagRecords > 0 && status.consecutiveFailures > 0
                }
                try tcp.start()
                try await Self.waitUntil("rsyslog over TCP, back, to get what it missed", timeout: .seconds(60)) {
                    received(tcp, second.created) { "id=\"\($0)\"" }
                }
                try await Self.waitUntil("the TCP stream's lag to drain") {
                    let status = try await progress.status(destination: "", format: "", logger: logger)
                    return status.lagRecords == 0 && status.consecutiveFailures == 0
                        && status.deliveredRecords >= Int64(first.created.count + second.created.count)
                }
            }
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }

        // Every OCSF line validates against the OCSF models (ocsf-pydantic).
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Receivers/ocsf_validate.py")
        let classes = try RsyslogReceiver.shell("python3 '\(script.path)' '\(files.path)/audit.ocsf.jsonl'")
        for name in ["api_activity", "authentication", "authorize_session"] {
            #expect(classes.contains("\(name)="), "\(classes)")
        }
    }

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
                let index = ResourceIndex<LogStreamSpec>()
                index.define(hec)
                index.define(webhook)
                let delivery = LogStreamDelivery(
                    streams: index, postgres: postgres, schema: log.schema, owner: "replica-1",
                    environment: LogSenderEnvironment(secrets: secrets), logger: logger)
                let first = try await log.publish(120, topic: topic)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await log.runner.run() }
                    group.addTask { try await delivery.run() }
                    defer { group.cancelAll() }
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
                        schema: log.schema, postgres: postgres, tenant: "acme", streamUID: webhook.metadata.uid,
                        name: "webhook", owner: "replica-1")
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
    func sigV4MatchesBotocore() throws {
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
        let reference = try RsyslogReceiver.shell(
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
        try RsyslogReceiver.shell("python3 '\(Self.peer)' create-bucket \(endpoint) audit-logs")
        let kek = try KeyEncryptionKey(keyID: "audit-kek-test", material: Array(repeating: 9, count: 32))
        let secret = try kek.derivedDataKey(tenant: "acme", purpose: LogStreamSecrets.purpose)
            .encrypt(Array("moto-secret".utf8), field: LogStreamSecrets.field(stream: "s3", "secretAccessKey"))
        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let index = ResourceIndex<LogStreamSpec>()
            index.define(
                Self.stream(
                    "s3",
                    LogStreamSpec(
                        destination: .s3(
                            .init(
                                bucket: "audit-logs", prefix: "sigil/", region: "us-east-1", endpoint: endpoint,
                                accessKeyID: "AKIDSIGILTEST", secretAccessKeyEncrypted: secret, windowSeconds: 1)),
                        format: .json)))
            let delivery = LogStreamDelivery(
                streams: index, postgres: postgres, schema: log.schema, owner: "replica-1",
                environment: LogSenderEnvironment(secrets: LogStreamSecrets(kek: kek)), logger: logger)
            let published = try await log.publish(150, topic: topic)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await log.runner.run() }
                group.addTask { try await delivery.run() }
                defer { group.cancelAll() }
                let ids = published.created + published.deleted
                try await Self.waitUntil("the bucket to hold every record", timeout: .seconds(60)) {
                    let stored = try RsyslogReceiver.shell(
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
            let index = ResourceIndex<LogStreamSpec>()
            index.define(
                Self.stream(
                    "kafka",
                    LogStreamSpec(
                        destination: .kafka(
                            .init(brokers: external.bootstrapServers, topic: "siem-audit", securityProtocol: .plaintext)
                        ),
                        format: .cef)))
            let delivery = LogStreamDelivery(
                streams: index, postgres: postgres, schema: log.schema, owner: "replica-1",
                environment: LogSenderEnvironment(), logger: logger)
            let published = try await log.publish(90, topic: topic)
            let consumer = try KafkaConsumer(
                configuration: .init(
                    client: .init(bootstrapServers: external.bootstrapServers, clientID: "siem"),
                    mode: .assign((0..<2).map { .init(topic: "siem-audit", partition: $0, offset: .beginning) })),
                logger: logger)
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await log.runner.run() }
                group.addTask { try await delivery.run() }
                defer { group.cancelAll() }
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
