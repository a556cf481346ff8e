import Foundation
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import PolicyDecision
@testable import SigilService

@Suite("Authenticated events: signed by a role's key, verified against the trust bundle, checked against authority")
struct EventSigningTests {
    let policy = EventSigner.generate(role: .policy, keyID: "policy-1").signer
    let edge = EventSigner.generate(role: .edge, keyID: "edge-1").signer
    let outsider = EventSigner.generate(role: .policy, keyID: "policy-1").signer  // same id, another key

    var verifier: EventVerifier {
        get throws { try EventVerifier(TrustBundle(keys: [policy.trustedKey, edge.trustedKey])) }
    }

    func granted(source: String = "/sigil/policy/1") throws -> (CloudEvent, any EventPayload) {
        let payload = AccessGranted(
            requestID: "req-1", target: AccessTarget(scheme: "https", host: "api.internal", port: 443),
            reply: ReplyAddress(edgeID: "e", partition: 0, publicKey: [1, 2, 3]), clientWorkload: "billing",
            serverWorkload: "api", accessPolicy: "p", credentialProvider: "key", ttlSeconds: 300,
            deadline: Deadline(milliseconds: 1_800_000_000_000))
        let event = try payload.cloudEvent(
            source: EventSource(service: "policy", instance: "1"), tenant: "acme", partitionKey: "req-1")
        var sourced = event
        sourced.source = source
        return (sourced, payload)
    }

    @Test("a signed event verifies after a trip through Kafka, whatever its time's milliseconds")
    func roundTrip() throws {
        let verifier = try verifier
        for _ in 0..<200 {
            let (event, payload) = try granted()
            var timed = event
            timed.time = Date(timeIntervalSince1970: 1_800_000_000 + Double.random(in: 0..<1000))
            let received = try CloudEvent.throughKafka(try policy.sign(timed))
            #expect(try verifier.verify(received, payload) == .policy)
        }
    }

    @Test("unsigned, tampered, unknown-key, wrong-role and wrong-source events are refused with their reason")
    func refusals() throws {
        let verifier = try verifier
        let (event, payload) = try granted()
        func reason(_ event: CloudEvent) -> String? {
            guard let received = try? CloudEvent.throughKafka(event) else { return "unreadable" }
            do {
                _ = try verifier.verify(received, payload)
                return nil
            } catch { return error.code }
        }
        #expect(reason(event) == "unsigned-event")
        var tampered = try policy.sign(event)
        tampered.data = Array(
            String(decoding: tampered.data, as: UTF8.self).replacingOccurrences(of: "billing", with: "billinh").utf8)
        #expect(reason(tampered) == "signature-invalid")
        var otherTenant = try policy.sign(event)
        otherTenant.tenant = "globex"
        #expect(reason(otherTenant) == "signature-invalid")
        #expect(reason(try outsider.sign(event)) == "signature-invalid")
        let stranger = EventSigner.generate(role: .policy, keyID: "stranger").signer
        #expect(reason(try stranger.sign(event)) == "unknown-signing-key")
        var edgeSourced = event
        edgeSourced.source = "/sigil/edge/1"
        #expect(reason(try edge.sign(edgeSourced)) == "role-not-allowed")  // an edge may not grant access
        #expect(reason(try policy.sign(try granted(source: "/sigil/issue/1").0)) == "source-mismatch")
        var garbled = try policy.sign(event)
        garbled.signature = "policy-1"
        #expect(reason(garbled) == "malformed-signature")
    }

    @Test("configuration events are accepted only from the service that owns the kind")
    func configAuthority() throws {
        let metadata = ResourceMetadata(
            name: "x", tenant: "acme", labels: [:], uid: "u", resourceVersion: "v", generation: 1, createdAt: Date(),
            updatedAt: Date(), createdBy: "ops")
        let actor = ResourceActor(tokenName: "ops", role: "admin")
        func defined(_ kind: ResourceKind) -> ResourceDefined {
            ResourceDefined(
                kind: kind, metadata: metadata, spec: [:], previousResourceVersion: nil, references: [],
                specDigest: "", changedBy: actor)
        }
        #expect(EventAuthority.allowedRoles(for: defined(.serverWorkload)) == [.policy])
        #expect(EventAuthority.allowedRoles(for: defined(.credentialProvider)) == [.issue])
        #expect(EventAuthority.allowedRoles(for: defined(.trustProvider)) == [.attest])
        #expect(
            EventAuthority.allowedRoles(
                for: AttestationKeyPublished(keyID: "k", publicKey: [], ciphersuite: "", notAfter: Date())) == [.attest]
        )
        #expect(
            EventAuthority.allowedRoles(
                for: PostureReported(
                    feed: "f", subject: "s", score: nil, status: nil, lastSeen: Date(), observedAt: Date())
            ) == [.policy], "posture feeds are pulled by sigil-policy")
        #expect(EventAuthority.allowedRoles(for: defined(.postureFeed)) == [.policy])
    }

    @Test("a trust bundle with a duplicate key id or a key that is not Ed25519 is refused")
    func bundles() {
        #expect(throws: SigilCryptoError.self) {
            try EventVerifier(TrustBundle(keys: [policy.trustedKey, policy.trustedKey]))
        }
        let bad = TrustBundle.Key(role: .policy, keyID: "x", publicKey: Base64Bytes([1, 2, 3]))
        #expect(throws: SigilCryptoError.self) { try EventVerifier(TrustBundle(keys: [bad])) }
    }
}

@Suite("A service does not run without its signing key and a trust bundle that lists it")
struct EventAuthenticationConfigurationTests {
    func load(_ environment: [String: String]) async throws -> EventAuthentication {
        let configuration = try await ServiceConfiguration.load(service: .policyDecision, environment: environment)
        return try EventAuthentication.load(configuration, role: .policy)
    }

    func refusal(_ environment: [String: String]) async -> String? {
        do {
            _ = try await load(environment)
            return nil
        } catch let error as ConfigurationError {
            return error.key
        } catch {
            return "\(error)"
        }
    }

    @Test("missing or unusable settings are refused, naming the key and never the value")
    func refusals() async throws {
        let (signer, material) = EventSigner.generate(role: .policy, keyID: "policy-1")
        let other = EventSigner.generate(role: .policy, keyID: "policy-2").signer
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "sigil-bundle-\(UUIDv7.generate())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func bundle(_ keys: [TrustBundle.Key], _ name: String) throws -> String {
            let path = directory.appendingPathComponent(name).path
            try JSONEncoder().encode(TrustBundle(keys: keys)).write(to: URL(fileURLWithPath: path))
            return path
        }
        let good = try bundle([signer.trustedKey], "good.json")
        let key = Data(material).base64EncodedString()
        #expect(await refusal([:]) == "SIGIL_SIGNING_KEY")
        #expect(await refusal(["SIGIL_SIGNING_KEY": "short"]) == "SIGIL_SIGNING_KEY")
        #expect(await refusal(["SIGIL_SIGNING_KEY": key, "SIGIL_SIGNING_KEY_ID": "policy-1"]) == "SIGIL_TRUST_BUNDLE")
        let withoutMine = try bundle([other.trustedKey], "other.json")
        #expect(
            await refusal([
                "SIGIL_SIGNING_KEY": key, "SIGIL_SIGNING_KEY_ID": "policy-1", "SIGIL_TRUST_BUNDLE": withoutMine,
            ])
                == "SIGIL_TRUST_BUNDLE")
        #expect(
            await refusal([
                "SIGIL_SIGNING_KEY": key, "SIGIL_SIGNING_KEY_ID": "policy-1", "SIGIL_TRUST_BUNDLE": "/nonexistent",
            ])
                == "SIGIL_TRUST_BUNDLE")
        let authentication = try await load(
            ["SIGIL_SIGNING_KEY": key, "SIGIL_SIGNING_KEY_ID": "policy-1", "SIGIL_TRUST_BUNDLE": good])
        #expect(authentication.signer.role == .policy)
    }
}
