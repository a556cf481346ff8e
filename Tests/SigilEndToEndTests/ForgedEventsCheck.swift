import Foundation
import Logging
import SigilClient
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

extension AccessFlowEndToEndTests {
    /// Someone who can produce to Kafka but holds no service role's key: a forged grant gets no credential, a
    /// forged attestation key and a forged configuration change are adopted by nobody. Each is dead-lettered with
    /// its reason.
    func checkForgeriesRefused(brokers: String, admin: AdminClient) async throws {
        let topics = SigilTopics()
        let producer = try KafkaProducer(
            configuration: .init(client: .init(bootstrapServers: brokers, clientID: "e2e-forger")),
            logger: Logger(label: "e2e"))
        // The attacker's own key, under the policy service's key id.
        let forger = EventSigner.generate(role: .policy, keyID: "policy-dev-1").signer
        let source = EventSource(service: "policy", instance: "dev-1")
        var written: [(topic: String, offset: Int64, reason: String)] = []
        func write(_ event: CloudEvent, to topic: SigilTopic, expecting reason: String) async throws {
            let report = try await producer.sendAndAwait(event.kafkaMessage(topic: topics.name(topic)))
            written.append((report.topic, report.offset, reason))
        }

        // A grant for a request nobody made, its credential to be sealed to the attacker's key.
        var forgedRequests: [String] = []
        for signed in [false, true] {
            let requestID = "forged-" + UUIDv7.generate()
            forgedRequests.append(requestID)
            let grant = try AccessGranted(
                requestID: requestID, target: AccessTarget(scheme: "http", host: "127.0.0.1", port: 1),
                reply: ReplyAddress(edgeID: "attacker", partition: 0, publicKey: Array(repeating: 7, count: 32)),
                clientWorkload: "billing", serverWorkload: DemoConfiguration.serverWorkload,
                accessPolicy: "billing-reads-reports", credentialProvider: "demo-reports-key", ttlSeconds: 3600,
                deadline: Deadline(Date().addingTimeInterval(60))
            ).cloudEvent(source: source, tenant: "default", partitionKey: requestID)
            try await write(
                signed ? try forger.sign(grant) : grant, to: .accessDecisions,
                expecting: signed ? "signature-invalid" : "unsigned-event")
        }
        // An attestation key of the attacker's, which edges would seal workload tokens to.
        let key = try AttestationKeyPublished(
            keyID: "ak-forged", publicKey: Array(repeating: 9, count: 32), ciphersuite: "x", notAfter: .distantFuture
        ).cloudEvent(
            source: EventSource(service: "attest", instance: "dev-1"), tenant: "_system", partitionKey: "_system")
        try await write(key, to: .config, expecting: "unsigned-event")
        // A server workload no admin defined, signed by a key the policy service does not have.
        let now = Date()
        let resource = try ResourceDefined(
            kind: .serverWorkload,
            metadata: ResourceMetadata(
                name: "forged-api", tenant: "default", labels: [:], uid: "u", resourceVersion: UUIDv7.generate(),
                generation: 1, createdAt: now, updatedAt: now, createdBy: "attacker"),
            spec: ["scheme": "http", "host": "evil.example", "port": 80, "reportEachRequest": false],
            previousResourceVersion: nil, references: [], specDigest: "",
            changedBy: ResourceActor(tokenName: "attacker", role: "admin")
        ).cloudEvent(source: source, tenant: "default", partitionKey: "default")
        try await write(try forger.sign(resource), to: .config, expecting: "signature-invalid")

        try await AdminClient.waitFor("every forged event to be dead-lettered with its reason") { () -> Bool? in
            let letters = try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.deadletter) }
                .compactMap { message -> EventDeadLettered? in
                    guard let event = try? CloudEvent(kafkaMessage: message) else { return nil }
                    return try? EventCatalog.sigil.decode(EventDeadLettered.self, from: event)
                }
            let seen = Set(letters.map { "\($0.topic)@\($0.offset):\($0.errorCode)" })
            return written.allSatisfy { seen.contains("\($0.topic)@\($0.offset):\($0.reason)") } ? true : nil
        }
        // Nothing acted on them.
        let replies = try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.accessReplies) }
            .compactMap { try? CloudEvent(kafkaMessage: $0) }
        #expect(!replies.contains { forgedRequests.contains($0.subject ?? "") })
        let (status, _, _) = try await admin.send(
            .GET, try admin.setting("SIGIL_POLICY_URL") + "/v1/server-workloads/forged-api")
        #expect(status == 404)
        let (_, edgeBody, _) = try await admin.send(
            .GET, try admin.setting("SIGIL_EDGE_URL") + "/v1/edge/status", tokenSetting: "SIGIL_EDGE_ROLE_TOKEN")
        let edgeStatus = String(decoding: edgeBody, as: UTF8.self)
        #expect(!edgeStatus.contains("ak-forged") && !edgeStatus.contains("forged-api"))
    }
}

extension AccessFlowEndToEndTests {
    /// Even with the edge role's own signing key (a compromised edge), a captured access request cannot be turned
    /// into another: its evidence copied under a new request id, or sent with another reply key, does not open.
    func checkReplaysRefused(brokers: String, edgeSigningKey: String) async throws {
        let topics = SigilTopics()
        let captured = try #require(
            try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.accessRequests) }
                .compactMap { message -> (CloudEvent, AccessRequested)? in
                    guard let event = try? CloudEvent(kafkaMessage: message),
                        let request = try? EventCatalog.sigil.decode(AccessRequested.self, from: event)
                    else { return nil }
                    return (event, request)
                }.first)
        let signer = try EventSigner(
            role: .edge, keyID: "edge-dev-1", material: Array(try #require(Data(base64Encoded: edgeSigningKey))))
        let producer = try KafkaProducer(
            configuration: .init(client: .init(bootstrapServers: brokers, clientID: "e2e-replayer")),
            logger: Logger(label: "e2e"))
        var replayed: [String] = []
        for variant in ["new-request-id", "other-reply-key"] {
            var request = captured.1
            request.deadline = Deadline(Date().addingTimeInterval(30))
            if variant == "new-request-id" { request.requestID = "replay-" + UUIDv7.generate() }
            if variant == "other-reply-key" {
                request.reply = ReplyAddress(
                    edgeID: request.reply.edgeID, partition: request.reply.partition,
                    publicKey: Array(repeating: 5, count: 32))
            }
            replayed.append(request.requestID)
            let event = try request.cloudEvent(
                source: EventSource(service: "edge", instance: "replayer"), tenant: captured.0.tenant,
                partitionKey: request.requestID, subject: request.requestID)
            _ = try await producer.sendAndAwait(
                try signer.sign(event).kafkaMessage(topic: topics.name(.accessRequests)))
        }
        try await AdminClient.waitFor("both replays to be refused as unsealable evidence") { () -> Bool? in
            let failures = try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.accessAttested) }
                .compactMap { message -> AttestationFailed? in
                    guard let event = try? CloudEvent(kafkaMessage: message) else { return nil }
                    return try? EventCatalog.sigil.decode(AttestationFailed.self, from: event)
                }
                .filter { replayed.contains($0.requestID) && $0.reason.code == "evidence-unsealable" }
            return failures.count == 2 ? true : nil
        }
        let attested = try await TopicScan.all(brokers: brokers).filter { $0.topic == topics.name(.accessAttested) }
            .compactMap { try? CloudEvent(kafkaMessage: $0) }
            .compactMap { try? EventCatalog.sigil.decode(IdentityAttested.self, from: $0) }
        #expect(
            !attested.contains {
                replayed.contains($0.requestID) && $0.reply.publicKey.bytes == Array(repeating: 5, count: 32)
            })
        #expect(!attested.contains { $0.requestID.hasPrefix("replay-") })
    }
}
