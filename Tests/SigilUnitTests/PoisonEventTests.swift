import Foundation
import SigilEvents
import SigilKafka
import Testing

/// One valid payload of every event type Sigil writes.
enum EventSamples {
    static let target = AccessTarget(scheme: "https", host: "api.internal", port: 443)
    static let reply = ReplyAddress(edgeID: "edge-1", partition: 3, publicKey: [1, 2, 3])
    static let sealed = SealedData(recipientKeyID: "k", encapsulatedKey: [4, 5], ciphertext: [6, 7])
    static let reason = RefusalReason(code: "no-matching-policy", detail: "no policy")
    static let deadline = Deadline(milliseconds: 1_800_000_000_000)
    static let metadata = ResourceMetadata(
        name: "api", tenant: "acme", labels: ["team": "a"], uid: "u", resourceVersion: "v", generation: 1,
        createdAt: Date(timeIntervalSince1970: 1_800_000_000), updatedAt: Date(timeIntervalSince1970: 1_800_000_000),
        createdBy: "ops")
    static let actor = ResourceActor(tokenName: "ops", role: "admin")

    static func all() throws -> [any EventPayload] {
        let letter = EventDeadLettered(
            consumer: "policy/resources",
            message: KafkaConsumerMessage(
                topic: "sigil.config", partition: 0, offset: 1, key: Array("k".utf8), value: Array("v".utf8),
                headers: [KafkaHeader(key: "ce_id", string: "x")], timestampMilliseconds: nil),
            errorCode: "invalid-data", errorDetail: "detail")
        let samples: [any EventPayload] = [
            TenantCreated(displayName: "Acme"),
            TenantKeyRotated(keyID: "dk-1", wrappedDataKey: [1, 2]),
            TenantDeleted(),
            ResourceDefined(
                kind: .serverWorkload, metadata: metadata, spec: ["host": "api.internal", "port": 443],
                previousResourceVersion: "v0",
                references: [ResourceReference(kind: .clientWorkload, name: "billing", field: "spec.clientWorkload")],
                specDigest: "abc", changedBy: actor),
            ResourceRemoved(kind: .serverWorkload, name: "api", resourceVersion: "v", changedBy: actor),
            AttestationKeyPublished(
                keyID: "ak-1", publicKey: [1], ciphersuite: "X25519",
                notAfter: Date(timeIntervalSince1970: 1_900_000_000)),
            AccessRequested(requestID: "r", target: target, evidence: sealed, reply: reply, deadline: deadline),
            IdentityAttested(
                requestID: "r", target: target, reply: reply, clientWorkload: "billing", trustProviders: ["cluster"],
                claims: ["sub": "system:serviceaccount:demo:billing"], deadline: deadline),
            AttestationFailed(requestID: "r", target: target, reason: reason),
            AccessGranted(
                requestID: "r", target: target, reply: reply, clientWorkload: "billing", serverWorkload: "api",
                accessPolicy: "p", credentialProvider: "key", ttlSeconds: 300, deadline: deadline),
            AccessDenied(requestID: "r", target: target, clientWorkload: "billing", reason: reason),
            CredentialIssued(
                requestID: "r", credential: sealed, expiresAt: Date(timeIntervalSince1970: 1_800_000_300), leaseID: "l"),
            AccessRefused(requestID: "r", stage: .policy, reason: reason),
            EdgeStarted(edgeID: "edge-1", replyPartition: 3),
            EdgeStopped(edgeID: "edge-1"),
            RequestProxied(
                edgeID: "edge-1", requestID: "r", target: target, status: 200, bytes: 10, latencyMilliseconds: 1.5),
            RequestsSummarized(
                edgeID: "edge-1", windowStart: Date(timeIntervalSince1970: 1_800_000_000),
                windowEnd: Date(timeIntervalSince1970: 1_800_000_010), entries: []),
            PostureReported(
                feed: "hosts", subject: "host-1", score: 90, status: "normal",
                lastSeen: Date(timeIntervalSince1970: 1_799_999_990),
                observedAt: Date(timeIntervalSince1970: 1_800_000_000)),
            letter,
        ]
        return samples
    }
}

@Suite("Poison events: a NUL or invalid UTF-8 in any string field of any event type is refused at decoding")
struct PoisonEventTests {
    func event(_ payload: any EventPayload, data: [UInt8]) throws -> CloudEvent {
        var event = try payload.cloudEvent(
            source: EventSource(service: "policy", instance: "1"), tenant: "acme", partitionKey: "acme")
        event.data = data
        return event
    }

    /// Every path to a string inside a JSON value.
    func stringPaths(_ value: JSONValue, _ path: [String] = []) -> [[String]] {
        switch value {
        case .string: return [path]
        case .array(let items): return items.indices.flatMap { stringPaths(items[$0], path + ["\($0)"]) }
        case .object(let fields): return fields.flatMap { stringPaths($0.value, path + [$0.key]) }
        default: return []
        }
    }

    func replacing(_ value: JSONValue, at path: [String], with text: String) -> JSONValue {
        guard let head = path.first else { return .string(text) }
        switch value {
        case .array(var items):
            let index = Int(head)!
            items[index] = replacing(items[index], at: Array(path.dropFirst()), with: text)
            return .array(items)
        case .object(var fields):
            fields[head] = replacing(fields[head]!, at: Array(path.dropFirst()), with: text)
            return .object(fields)
        default: return value
        }
    }

    @Test("every sample decodes as it is (the catalog knows every type)")
    func samplesDecode() throws {
        let samples = try EventSamples.all()
        #expect(Set(samples.map { type(of: $0).eventType.description }).count == samples.count)
        for sample in samples {
            let data = Array(try EventJSON.encoder.encode(sample))
            let decoded = try EventCatalog.sigil.decode(try event(sample, data: data))
            #expect(type(of: decoded).eventType == type(of: sample).eventType)
        }
    }

    @Test("a NUL in each string field, escaped or raw, and invalid UTF-8 in each, are refused as invalid data")
    func poison() throws {
        var checked = 0
        for sample in try EventSamples.all() {
            let json = try JSONValue(encoding: sample)
            let paths = stringPaths(json)
            #expect(!paths.isEmpty || sample is TenantDeleted, "\(type(of: sample)) has no string field")
            for path in paths {
                let poisoned = replacing(json, at: path, with: "ab\u{0}cd")
                let escaped = Array(try EventJSON.encoder.encode(poisoned))
                #expect(String(decoding: escaped, as: UTF8.self).contains("\\u0000"))
                var raw = escaped
                let marker = Array("INVALIDUTF8".utf8)
                let invalid = Array(try EventJSON.encoder.encode(replacing(json, at: path, with: "INVALIDUTF8")))
                var broken = invalid
                if let start = (0...(invalid.count - marker.count)).first(where: {
                    Array(invalid[$0..<$0 + marker.count]) == marker
                }) {
                    broken.replaceSubrange(start..<start + marker.count, with: [0xC3, 0x28, 0xFF])
                }
                if let start = (0...(raw.count - 6)).first(where: { Array(raw[$0..<$0 + 6]) == Array("\\u0000".utf8) })
                {
                    raw.replaceSubrange(start..<start + 6, with: [0])
                }
                for (name, data) in [("escaped NUL", escaped), ("raw NUL", raw), ("invalid UTF-8", broken)] {
                    let poisoned = try event(sample, data: data)
                    do {
                        _ = try EventCatalog.sigil.decode(poisoned)
                        Issue.record("\(type(of: sample)).\(path.joined(separator: ".")): \(name) accepted")
                    } catch {
                        #expect(error.code == "invalid-data")
                    }
                    checked += 1
                }
            }
        }
        #expect(checked > 150)
    }

    @Test("an escaped backslash before u0000 is text, not a NUL; a control character in an attribute is refused")
    func escapesAndAttributes() throws {
        let sample = TenantCreated(displayName: "x")
        let data = Array(#"{"displayName":"C:\\u0000"}"#.utf8)
        let decoded = try EventCatalog.sigil.decode(TenantCreated.self, from: try event(sample, data: data))
        #expect(decoded.displayName == #"C:\u0000"#)
        let message = try event(sample, data: Array(try EventJSON.encoder.encode(sample))).kafkaMessage(topic: "t")
        for header in ["ce_subject", "ce_tenant"] {
            var headers = message.headers.filter { $0.key != header }
            headers.append(KafkaHeader(key: header, string: "a\u{0}b"))
            #expect(throws: EventDecodingError.self) {
                try CloudEvent(
                    kafkaMessage: KafkaConsumerMessage(
                        topic: "t", partition: 0, offset: 0, key: message.key, value: message.value, headers: headers,
                        timestampMilliseconds: nil))
            }
        }
    }
}

extension PoisonEventTests {
    @Test("a dead letter of a record with NUL in its headers is itself a readable event")
    func deadLetterOfPoison() throws {
        let letter = EventDeadLettered(
            consumer: "policy/resources",
            message: KafkaConsumerMessage(
                topic: "sigil.config", partition: 0, offset: 1, key: nil, value: [0, 1, 2],
                headers: [KafkaHeader(key: "ce_sub\u{0}ject", string: "a\u{0}b")], timestampMilliseconds: nil),
            errorCode: "invalid-attribute", errorDetail: "holds a control character")
        let data = Array(try EventJSON.encoder.encode(letter))
        let decoded = try EventCatalog.sigil.decode(EventDeadLettered.self, from: try event(letter, data: data))
        #expect(decoded.headers == ["ce_sub\u{FFFD}ject": "a\u{FFFD}b"])
    }
}
