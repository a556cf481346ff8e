import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import SigilClient
import SigilEvents
import SigilKafka
import SigilProjection
import Testing

/// The walking skeleton end to end: `sigil dev up` starts the broker, PostgreSQL and the five services as separate
/// processes; this test plays the protected API and the cluster's token issuer, and the workload behind the edge.
@Suite("End to end: five processes, the mock broker and PostgreSQL", .serialized)
struct AccessFlowEndToEndTests {
    @Test("granted, cached, denied and unreachable flows; nothing secret in clear; CloudEvents headers; dead letters")
    func accessFlow() async throws {
        // Attestation keys rotate every 8 s here, so the flows below run across rotations.
        setenv("SIGIL_ATTEST_KEY_ROTATION_SECONDS", String(Self.keyRotationSeconds), 1)
        setenv("SIGIL_AUDIT_CHECKPOINT_SECONDS", "2", 1)
        let constellation = try await LocalConstellation.start()
        try await constellation.withUpstream { upstream in
            try await exercise(constellation, upstream: upstream)
        }
        let pids = ["broker", "sigil-attest", "sigil-policy", "sigil-issue", "sigil-audit", "sigil-edge"].compactMap {
            name in (try? constellation.pid(of: name)).map { (name, $0) }
        }
        let stopped = try await constellation.stop()
        for (name, pid) in pids {
            #expect(kill(pid, 0) != 0, "\(name) (pid \(pid)) still running after dev down:\n\(stopped)")
        }
    }

    func exercise(_ constellation: LocalConstellation, upstream: DemoUpstream) async throws {
        let admin = constellation.admin
        let settings = constellation.settings
        let brokers = try #require(settings["SIGIL_KAFKA_BROKERS"])
        let tokenFile = try #require(settings["SIGIL_EDGE_TOKEN_FILE"])
        let proxyURL = try #require(settings["SIGIL_EDGE_PROXY"])
        let proxy = try #require(URLComponents(string: proxyURL))
        let (proxyHost, proxyPort) = (try #require(proxy.host), try #require(proxy.port))
        let port = try await AdminClient.waitFor("the upstream to listen") { upstream.port }
        let url = "http://127.0.0.1:\(port)/reports"
        let identity = DemoIdentity()
        var tokens: [String] = []
        func useToken(_ serviceAccount: String) async throws {
            tokens.append(
                try await identity.present(namespace: "demo", serviceAccount: serviceAccount, tokenFile: tokenFile))
        }
        func request(_ headers: [(String, String)] = []) async throws -> ForwardProxyRequest.Response {
            try await ForwardProxyRequest.get(url, proxyHost: proxyHost, proxyPort: proxyPort, headers: headers)
        }

        let receivers = try await applyAuditStreams(admin)
        defer { receivers.forEach { $0.stop() } }
        let documents = try DemoConfiguration.documents(identity: identity, upstreamPort: port, apiKey: upstream.apiKey)
        // In reverse order: the policy first, which names everything else; apply orders by references.
        let applied = try await admin.apply(documents.reversed())
        #expect(
            applied.map(\.change) == Array(repeating: "created", count: documents.count),
            "\(applied.map { "\($0.status) \($0.detail ?? "")" })")
        try await admin.waitUntilProjected(documents)
        try await admin.waitUntilEdgeKnows(serverWorkload: DemoConfiguration.serverWorkload)
        // Applying the same set again changes nothing, and writes no event: the audit log holds one change each
        // (and the log streams').
        func configChanges() async throws -> Int {
            try await admin.auditRecords(since: .distantPast).filter { $0["outcome"] as? String == "resource-defined" }
                .count
        }
        try await AdminClient.waitFor("the audit log to hold the configuration") {
            try await configChanges() == documents.count + 3 ? true : nil
        }
        #expect(
            try await admin.apply(documents).map(\.change) == Array(repeating: "unchanged", count: documents.count))
        try await Task.sleep(for: .seconds(1))
        #expect(try await configChanges() == documents.count + 3)

        // Granted: the client sends a forged key; the edge replaces it with the issued one.
        try await useToken("billing")
        let granted = try await request([("X-API-Key", "forged-by-client")])
        #expect(granted.status == 200)
        #expect(upstream.authorized == 1 && upstream.rejected == 0)

        // Cached: the same workload again produces no new access request.
        let requestsBefore = try await accessRequestCount(brokers)
        let cached = try await request()
        #expect(cached.status == 200)
        #expect(upstream.authorized == 2)
        #expect(try await accessRequestCount(brokers) == requestsBefore)

        // Denied by policy, and unknown to attestation: 403 naming stage and reason.
        try await useToken("reporting")
        let denied = try await request()
        #expect(denied.status == 403)
        #expect(denied.body.contains(#""stage":"policy""#) && denied.body.contains("no-matching-policy"))
        try await useToken("intruder")
        let unknown = try await request()
        #expect(unknown.status == 403)
        #expect(unknown.body.contains(#""stage":"attestation""#) && unknown.body.contains("no-client-workload"))
        #expect(upstream.authorized == 2)

        // After an attestation-key rotation the edge seals to the new key, and a new workload token is granted.
        let firstKey = try await edgeAttestationKey(admin)
        try await AdminClient.waitFor("the attestation key to rotate", within: .seconds(Self.keyRotationSeconds * 3)) {
            try await edgeAttestationKey(admin) != firstKey ? true : nil
        }
        try await useToken("billing")
        let afterRotation = try await request()
        #expect(afterRotation.status == 200, "after rotation: \(afterRotation.body)")
        #expect(upstream.authorized == 3)

        try await checkDeadLetters(brokers: brokers, admin: admin)
        try await checkForgeriesRefused(brokers: brokers, admin: admin)
        let edgeVariables = try String(
            contentsOfFile: "/proc/\(try constellation.pid(of: "sigil-edge"))/environ", encoding: .utf8
        ).split(separator: "\0")
        let edgeSigningKey = try #require(
            edgeVariables.first { $0.hasPrefix("SIGIL_SIGNING_KEY=") }?.dropFirst("SIGIL_SIGNING_KEY=".count))
        try await checkReplaysRefused(brokers: brokers, edgeSigningKey: String(edgeSigningKey))
        try await checkNothingInClear(
            constellation, brokers: brokers,
            secrets: [upstream.apiKey] + tokens + tokens.map { String($0.split(separator: ".").last!) })

        // The edge announced itself; the audit log recorded the decisions and its chain verifies.
        let history = try await admin.auditRecords(since: Date().addingTimeInterval(-600))
        #expect(history.contains { $0["outcome"] as? String == "edge-started" })
        let (status, body, _) = try await admin.send(.GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/verify")
        #expect(status == 200 && String(decoding: body, as: UTF8.self).contains(#""verified":true"#))
        try await checkAuditLog(constellation, receivers: receivers)

        // Control plane unreachable: with sigil-attest stopped, a new workload token gets a 503 within the timeout.
        kill(try constellation.pid(of: "sigil-attest"), SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        try await useToken("billing")
        let started = ContinuousClock.now
        let unavailable = try await request()
        let elapsed = ContinuousClock.now - started
        #expect(unavailable.status == 503)
        #expect(unavailable.body.contains("control-plane"))
        #expect(elapsed < .seconds(3.5), "503 took \(elapsed)")

        // Static stability: with the broker gone too, the workload's cached credential keeps working; a request that
        // needs a new credential is refused within the deadline (2 s from its arrival), naming the stage.
        try tokens[0].write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(400))  // the edge re-reads a changed token file every 250 ms
        kill(try constellation.pid(of: "broker"), SIGKILL)
        let authorizedBefore = upstream.authorized
        for _ in 0..<100 { #expect(try await request().status == 200) }
        #expect(upstream.authorized == authorizedBefore + 100)
        try await useToken("billing")
        let brokerDownStart = ContinuousClock.now
        let brokerDown = try await request()
        let brokerDownElapsed = ContinuousClock.now - brokerDownStart
        #expect(brokerDown.status == 503)
        #expect(brokerDown.body.contains(#""stage":"edge""#) && brokerDown.body.contains("control-plane"))
        #expect(brokerDownElapsed < .seconds(2.5), "503 took \(brokerDownElapsed)")

        // The edge holds its own credential, never the tenant's admin token.
        let edgeEnvironment = try String(
            contentsOfFile: "/proc/\(try constellation.pid(of: "sigil-edge"))/environ", encoding: .utf8)
        #expect(!edgeEnvironment.contains("SIGIL_ADMIN_TOKEN=") && edgeEnvironment.contains("SIGIL_EDGE_ROLE_TOKEN="))
        let adminToken = try admin.setting("SIGIL_ADMIN_TOKEN")
        #expect(!edgeEnvironment.contains(adminToken))
    }

    /// Records on `access.requests` so far.
    func accessRequestCount(_ brokers: String) async throws -> Int64 {
        let admin = try KafkaAdmin(
            configuration: .init(bootstrapServers: brokers, clientID: "e2e-count"), logger: Logger(label: "e2e"))
        let topic = SigilTopics().name(.accessRequests)
        var total: Int64 = 0
        for partition in 0..<(try await admin.metadata().topic(topic)?.partitions ?? 0) {
            total += try await admin.highWatermark(topic: topic, partition: partition)
        }
        return total
    }

    static let keyRotationSeconds = 8

    /// The attestation key the edge seals to now.
    func edgeAttestationKey(_ admin: AdminClient) async throws -> String? {
        let (_, body, _) = try await admin.send(
            .GET, try admin.setting("SIGIL_EDGE_URL") + "/v1/edge/status", tokenSetting: "SIGIL_EDGE_ROLE_TOKEN")
        return (try JSONSerialization.jsonObject(with: body) as? [String: Any])?["attestationKey"] as? String
    }

    /// A malformed record and an unknown event written by hand to every topic land in `sigil.deadletter`, and
    /// every service stays ready.
    func checkDeadLetters(brokers: String, admin: AdminClient) async throws {
        let topics = SigilTopics()
        let producer = try KafkaProducer(
            configuration: .init(client: .init(bootstrapServers: brokers, clientID: "e2e-bad-records")),
            logger: Logger(label: "e2e")
        )
        var written: [(topic: String, offset: Int64)] = []
        for topic in SigilTopic.allCases where topic != .deadletter {
            let malformed = try await producer.sendAndAwait(
                KafkaProducerMessage(
                    topic: topics.name(topic), partition: 0, key: Array("bad".utf8), value: Array("{not json".utf8))
            )
            written.append((malformed.topic, malformed.offset))
        }
        var unknown = try TenantCreated(displayName: "x")
            .cloudEvent(source: EventSource(service: "e2e", instance: "1"), tenant: "default", partitionKey: "default")
            .kafkaMessage(topic: topics.name(.config), partition: 0)
        unknown.headers = unknown.headers.map {
            $0.key == "ce_type" ? KafkaHeader(key: "ce_type", string: "dev.sigil.config.teleported.v1") : $0
        }
        let unknownReport = try await producer.sendAndAwait(unknown)
        written.append((unknownReport.topic, unknownReport.offset))

        try await AdminClient.waitFor("every bad record to be dead-lettered") { () -> Bool? in
            let letters = try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.deadletter) }
                .compactMap { message -> EventDeadLettered? in
                    guard let event = try? CloudEvent(kafkaMessage: message) else { return nil }
                    return try? EventCatalog.sigil.decode(EventDeadLettered.self, from: event)
                }
            let seen = Set(letters.map { "\($0.topic)@\($0.offset)" })
            return written.allSatisfy { seen.contains("\($0.topic)@\($0.offset)") } ? true : nil
        }
        for variable in [
            "SIGIL_ATTEST_URL", "SIGIL_POLICY_URL", "SIGIL_ISSUE_URL", "SIGIL_AUDIT_URL", "SIGIL_EDGE_URL",
        ] {
            let (status, _, _) = try await admin.send(.GET, try admin.setting(variable) + "/readyz")
            #expect(status == 200, "\(variable) not ready after bad records")
        }
    }

    /// Every record of every topic carries the CloudEvents headers; no record, row or log line holds a secret.
    func checkNothingInClear(_ constellation: LocalConstellation, brokers: String, secrets: [String]) async throws {
        let secrets = secrets + [try constellation.admin.setting("SIGIL_ADMIN_TOKEN")]
        let records = try await TopicScan.all(brokers: brokers)
        #expect(records.count > 20)
        let required = [
            "ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_tenant", "ce_partitionkey",
            "content-type",
        ]
        for record in records {
            let text =
                String(decoding: record.value, as: UTF8.self)
                + record.headers.map { "\($0.key)=\($0.stringValue ?? "")" }.joined(separator: ";")
            for secret in secrets {
                #expect(!text.contains(secret), "a secret in clear on \(record.topic)@\(record.offset)")
            }
            if !(record.value.starts(with: Array("{not json".utf8))) {
                for header in required {
                    #expect(record.header(header) != nil, "\(record.topic)@\(record.offset) lacks \(header)")
                }
            }
        }

        let url = try #require(constellation.settings["SIGIL_POSTGRES_URL"])
        let client = PostgresClient(
            configuration: try PostgresURL.configuration(url), backgroundLogger: Logger(label: "e2e.pg"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let tables = try await client.query(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('attest', 'policy', 'issue', 'audit')"
            )
            var names: [String] = []
            for try await (schema, table) in tables.decode((String, String).self) { names.append("\(schema).\(table)") }
            #expect(names.contains("audit.events") && names.contains("issue.resources"))
            var rows = 0
            for name in names {
                let result = try await client.query(PostgresQuery(unsafeSQL: "SELECT t::text FROM \(name) t"))
                for try await row in result.decode(String.self) {
                    rows += 1
                    for secret in secrets { #expect(!row.contains(secret), "a secret in clear in \(name)") }
                }
            }
            #expect(rows > 20)
        }

        let logs = constellation.logText
        #expect(!logs.isEmpty)
        for secret in secrets { #expect(!logs.contains(secret), "a secret in a service log") }

        // An independent client sees the headers too.
        let (status, output) = try await LocalConstellation.run(
            "/usr/bin/kcat", ["-C", "-b", brokers, "-t", SigilTopics().name(.accessRequests), "-e", "-q", "-f", "%h\n"]
        )
        #expect(status == 0)
        #expect(output.contains("ce_type=dev.sigil.access.requested.v2") && output.contains("ce_specversion=1.0"))
    }
}
