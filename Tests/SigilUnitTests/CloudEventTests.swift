import Foundation
import SigilEvents
import SigilKafka
import Testing

@Suite("CloudEvents binary mode")
struct CloudEventTests {
    let source = EventSource(service: "policy", instance: "test-1")

    /// What a consumer reads back from a produced record.
    func received(
        _ message: KafkaProducerMessage, replacing header: String? = nil, with value: String? = nil,
        dropping dropped: String? = nil
    ) -> KafkaConsumerMessage {
        var headers = message.headers.filter { $0.key != dropped }
        if let header {
            headers.removeAll { $0.key == header }
            if let value { headers.append(KafkaHeader(key: header, string: value)) }
        }
        return KafkaConsumerMessage(
            topic: message.topic,
            partition: 0,
            offset: 7,
            key: message.key,
            value: message.value,
            headers: headers,
            timestampMilliseconds: nil
        )
    }

    func grantedEvent() throws -> CloudEvent {
        let payload = AccessDenied(
            requestID: "req-1",
            target: AccessTarget(scheme: "https", host: "api.internal", port: 443),
            clientWorkload: "billing",
            reason: RefusalReason(code: "no-policy", detail: "no access policy matches")
        )
        return try payload.cloudEvent(
            source: source,
            tenant: "acme",
            partitionKey: "req-1",
            subject: "req-1",
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        )
    }

    @Test("every attribute travels as a ce_ header, the key is the partition key")
    func encodesBinaryMode() throws {
        let event = try grantedEvent()
        let message = event.kafkaMessage(topic: "sigil.access.decisions")
        let headers = Dictionary(
            message.headers.map { ($0.key, $0.stringValue ?? "") }, uniquingKeysWith: { a, _ in a })
        #expect(headers["ce_specversion"] == "1.0")
        #expect(headers["ce_id"] == event.id)
        #expect(headers["ce_source"] == "/sigil/policy/test-1")
        #expect(headers["ce_type"] == "dev.sigil.access.denied.v1")
        #expect(headers["ce_subject"] == "req-1")
        #expect(headers["ce_tenant"] == "acme")
        #expect(headers["ce_partitionkey"] == "req-1")
        #expect(headers["ce_traceparent"] == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(headers["content-type"] == "application/json")
        #expect(
            headers["ce_time"].flatMap { try? Date($0, strategy: .iso8601) } != nil
                || headers["ce_time"]?.hasSuffix("Z") == true)
        #expect(message.key == Array("req-1".utf8))
    }

    @Test("ids are UUIDv7: version 7, RFC variant, time-ordered")
    func uuidV7() throws {
        let early = UUIDv7.generate(at: Date(timeIntervalSince1970: 1_700_000_000))
        let late = UUIDv7.generate(at: Date(timeIntervalSince1970: 1_800_000_000))
        #expect(early < late)
        let characters = Array(early)
        #expect(characters[14] == "7")
        #expect("89ab".contains(characters[19]))
        #expect(UUID(uuidString: early) != nil)
    }

    @Test("a record decodes back into the same event and typed payload")
    func roundTrip() throws {
        let event = try grantedEvent()
        let decoded = try CloudEvent(kafkaMessage: received(event.kafkaMessage(topic: "t")))
        #expect(decoded.id == event.id)
        #expect(decoded.type == event.type)
        #expect(abs(decoded.time.timeIntervalSince(event.time)) < 0.001)
        #expect(decoded.tenant == "acme")
        let payload = try EventCatalog.sigil.decode(decoded)
        let denied = try #require(payload as? AccessDenied)
        #expect(denied.reason.code == "no-policy")
        #expect(try EventCatalog.sigil.decode(AccessDenied.self, from: decoded) == denied)
    }

    @Test("a missing required header is named")
    func missingHeader() throws {
        let message = try grantedEvent().kafkaMessage(topic: "t")
        for header in ["ce_id", "ce_source", "ce_type", "ce_time", "ce_tenant", "ce_partitionkey", "ce_specversion"] {
            #expect(throws: EventDecodingError.missingAttribute(header)) {
                try CloudEvent(kafkaMessage: received(message, dropping: header))
            }
        }
    }

    @Test("malformed attributes are refused with the attribute's name")
    func malformedAttributes() throws {
        let message = try grantedEvent().kafkaMessage(topic: "t")
        let cases: [(String, String)] = [
            ("ce_specversion", "0.3"),
            ("ce_type", "com.example.other"),
            ("ce_type", "dev.sigil.access.denied"),
            ("ce_type", "dev.sigil.access..denied.v1"),
            ("ce_type", "dev.sigil..denied.v1"),
            ("ce_type", "dev.sigil.access.denied.v01"),
            ("ce_type", "dev.sigil.access.denied.v+1"),
            ("ce_type", "dev.sigil.access.denied.v"),
            ("ce_type", "dev.sigil.access.v1"),
            ("ce_type", "dev.sigil.access.denied.v1\u{01}"),
            ("ce_time", "yesterday"),
            ("content-type", "application/xml"),
            ("ce_tenant", ""),
        ]
        for (header, value) in cases {
            do {
                _ = try CloudEvent(kafkaMessage: received(message, replacing: header, with: value))
                Issue.record("\(header)=\(value) was accepted")
            } catch {
                if case .invalidAttribute(let name, _) = error {
                    #expect(name == header)
                } else {
                    Issue.record("\(error)")
                }
            }
        }
    }

    @Test("an event type reads back as the parts it was made of, its text unchanged")
    func eventTypes() {
        for (text, area, event, version) in [
            ("dev.sigil.access.granted.v1", "access", "granted", 1),
            ("dev.sigil.config.trust-provider.defined.v12", "config", "trust-provider.defined", 12),
        ] {
            let parsed = EventType(parsing: text)
            #expect(parsed == EventType(area: area, event: event, version: version))
            #expect(parsed?.area == area && parsed?.event == event && parsed?.version == version)
            #expect(parsed?.description == text)
        }
    }

    @Test("the signing input is the documented layout: a tag, then every attribute and the data, length-prefixed")
    func signingInputLayout() throws {
        var event = try grantedEvent()
        event.subject = "req-1"
        event.traceparent = nil
        event.receivedTime = "2026-11-27T08:00:00.123Z"
        var expected = Array("sigil-event-signature-v1".utf8)
        let fields =
            [
                "1.0", event.id, event.source, "dev.sigil.access.denied.v1", "2026-11-27T08:00:00.123Z", "req-1",
                event.tenant, event.partitionKey, "", "application/json",
            ].map { Array($0.utf8) } + [event.data]
        for field in fields {
            expected += [
                UInt8(field.count >> 24), UInt8(field.count >> 16 & 0xff), UInt8(field.count >> 8 & 0xff),
                UInt8(field.count & 0xff),
            ]
            expected += field
        }
        #expect(event.signingInput == expected)
        #expect(event.signingInputCount == expected.count)
    }

    @Test("a copy is a value: changing it leaves the original as it was")
    func copiesAreValues() throws {
        let original = try grantedEvent()
        let data = original.data
        var copy = original
        copy.signature = "edge-1:changed"
        copy.data.append(contentsOf: Array(" ".utf8))
        copy.receivedTime = "2026-11-27T08:00:00.123Z"
        #expect(original.signature == nil && original.receivedTime == nil)
        #expect(original.data == data)
        #expect(copy != original && copy.data.count == original.data.count + 1)
        var again = copy
        again.signature = nil
        #expect(copy.signature == "edge-1:changed")
    }

    @Test("an unknown type and an unreadable version are told apart")
    func unknownTypes() throws {
        let message = try grantedEvent().kafkaMessage(topic: "t")
        let unknown = try CloudEvent(
            kafkaMessage: received(message, replacing: "ce_type", with: "dev.sigil.access.teleported.v1"))
        #expect(throws: EventDecodingError.unknownType("dev.sigil.access.teleported.v1")) {
            try EventCatalog.sigil.decode(unknown)
        }
        let future = try CloudEvent(
            kafkaMessage: received(message, replacing: "ce_type", with: "dev.sigil.access.denied.v9"))
        #expect(throws: EventDecodingError.unsupportedVersion("dev.sigil.access.denied.v9", supported: [1])) {
            try EventCatalog.sigil.decode(future)
        }
    }

    @Test("data that does not match the type names the field, not the data")
    func invalidData() throws {
        var event = try grantedEvent()
        event.data = Array(#"{"requestID":"req-1","clientWorkload":"billing","reason":{"code":"x","detail":"y"}}"#.utf8)
        #expect(throws: EventDecodingError.invalidData("dev.sigil.access.denied.v1", reason: "missing field target")) {
            try EventCatalog.sigil.decode(event)
        }
        event.data = Array("not json at all: s3cr3t".utf8)
        do {
            _ = try EventCatalog.sigil.decode(event)
            Issue.record("garbage accepted")
        } catch {
            #expect(error.code == "invalid-data")
            #expect(!error.description.contains("s3cr3t"))
        }
    }

    @Test("resource kinds name their admin paths and tables")
    func resourcePaths() {
        #expect(ResourceKind.trustProvider.pathComponent == "trust-providers")
        #expect(ResourceKind.accessPolicy.pathComponent == "access-policies")
        #expect(ResourceKind.accessPolicy.tableName == "access_policies")
        #expect(ResourceKind.logStream.tableName == "log_streams")
    }

    @Test("topic names follow the configured prefix and partition counts")
    func topics() {
        let topics = SigilTopics(prefix: "sigil.", partitions: [.accessReplies: 24])
        #expect(topics.name(.accessRequests) == "sigil.access.requests")
        #expect(topics.specification(.accessReplies).partitions == 24)
        #expect(topics.specification(.config).partitions == 3)
        #expect(topics.topic(named: "sigil.edge.activity") == .edgeActivity)
        #expect(topics.allSpecifications.count == SigilTopic.allCases.count)
    }
}
