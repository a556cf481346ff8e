import Foundation
import SigilCrypto
import SigilEvents
import Testing

@Suite("HPKE sealing")
struct SealingTests {
    let attestKey = HPKERecipientKey()
    let token = Array("eyJhbGciOiJSUzI1NiJ9.service-account-token.sig".utf8)
    static let target = AccessTarget(scheme: "https", host: "api.internal", port: 443)
    static let deadline = Deadline(milliseconds: 1_800_000_000_123)

    /// The evidence context of a request; each argument replaces one of its bound fields.
    static func evidence(
        tenant: String = "acme", requestID: String = "req-1", edgeID: String = "edge-1", replyKey: [UInt8] = [1, 2, 3],
        target: AccessTarget = target, deadline: Deadline = deadline
    ) -> SealingContext {
        .evidence(
            tenant: tenant, requestID: requestID, edgeID: edgeID, replyKey: replyKey, target: target,
            deadline: deadline)
    }

    @Test("evidence sealed to the attestation key opens only there, with the same context")
    func roundTrip() throws {
        let context = Self.evidence()
        let sealed = try HPKESealing.seal(
            token, to: attestKey.publicKey, recipientKeyID: attestKey.keyID, context: context)
        #expect(sealed.recipientKeyID == attestKey.keyID)
        #expect(!sealed.ciphertext.bytes.containsSubsequence(token))
        #expect(try attestKey.open(sealed, context: context) == token)
    }

    @Test("a tampered ciphertext or encapsulated key is refused")
    func tamper() throws {
        let context = Self.evidence()
        let sealed = try HPKESealing.seal(
            token, to: attestKey.publicKey, recipientKeyID: attestKey.keyID, context: context)
        var flipped = sealed
        flipped.ciphertext.bytes[3] ^= 0x01
        #expect(throws: SigilCryptoError.self) { try attestKey.open(flipped, context: context) }
        var otherKey = sealed
        otherKey.encapsulatedKey.bytes[0] ^= 0x80
        #expect(throws: SigilCryptoError.self) { try attestKey.open(otherKey, context: context) }
    }

    @Test(
        "evidence copied into another request, or sent with another edge, reply key, target or deadline, does not open")
    func replayElsewhere() throws {
        let sealed = try HPKESealing.seal(
            token, to: attestKey.publicKey, recipientKeyID: attestKey.keyID, context: Self.evidence())
        for context in [
            Self.evidence(requestID: "req-2"), Self.evidence(tenant: "other"), Self.evidence(edgeID: "edge-2"),
            Self.evidence(replyKey: [1, 2, 4]),
            Self.evidence(target: AccessTarget(scheme: "https", host: "api.internal", port: 8443)),
            Self.evidence(deadline: Deadline(milliseconds: 1_800_000_000_124)),
            .credential(tenant: "acme", requestID: "req-1"),
        ] {
            do {
                _ = try attestKey.open(sealed, context: context)
                Issue.record("opened under \(context.purpose)")
            } catch {
                #expect(error.code == .authenticationFailed)
            }
        }
    }

    @Test("a message for another key is refused as unknown-key")
    func wrongRecipient() throws {
        let other = HPKERecipientKey()
        let context = SealingContext.credential(tenant: "acme", requestID: "req-1")
        let sealed = try HPKESealing.seal(token, to: other.publicKey, recipientKeyID: other.keyID, context: context)
        do {
            _ = try attestKey.open(sealed, context: context)
            Issue.record("opened with the wrong key")
        } catch {
            #expect(error.code == .unknownKey)
        }
    }

    @Test("published public keys are read back; garbage is refused")
    func publicKeys() throws {
        let key = try HPKERecipientKey.publicKey(attestKey.publicKeyBytes)
        #expect(key.rawRepresentation == attestKey.publicKey.rawRepresentation)
        #expect(throws: SigilCryptoError.self) { try HPKERecipientKey.publicKey([1, 2, 3]) }
    }
}

@Suite("Envelope encryption and identifier HMACs")
struct EnvelopeEncryptionTests {
    let kek = try! KeyEncryptionKey(keyID: "kek-1", material: Array(repeating: 7, count: 32))
    let apiKey = Array("sk_live_0123456789abcdef".utf8)

    @Test("a data key wraps, unwraps and decrypts what it encrypted")
    func roundTrip() throws {
        let dataKey = TenantDataKey(tenant: "acme")
        let wrapped = try kek.wrap(dataKey)
        let field = "credential-provider/billing/apiKey"
        let value = try dataKey.encrypt(apiKey, field: field)
        #expect(!value.description.contains("sk_live"))
        let parsed = try EncryptedValue(parsing: value.description)
        #expect(try kek.unwrap(wrapped).decrypt(parsed, field: field) == apiKey)
    }

    @Test("tampered values, swapped fields and moved keys are refused")
    func tamper() throws {
        let dataKey = TenantDataKey(tenant: "acme")
        let value = try dataKey.encrypt(apiKey, field: "a")
        var sealed = value.sealed
        sealed[sealed.count - 1] ^= 1
        #expect(throws: SigilCryptoError.self) {
            try dataKey.decrypt(EncryptedValue(keyID: value.keyID, sealed: sealed), field: "a")
        }
        #expect(throws: SigilCryptoError.self) { try dataKey.decrypt(value, field: "b") }

        let wrapped = try kek.wrap(dataKey)
        let moved = WrappedDataKey(kekID: wrapped.kekID, tenant: "other", keyID: wrapped.keyID, sealed: wrapped.sealed)
        #expect(throws: SigilCryptoError.self) { try kek.unwrap(moved) }
        let otherKEK = try KeyEncryptionKey(keyID: "kek-1", material: Array(repeating: 8, count: 32))
        #expect(throws: SigilCryptoError.self) { try otherKEK.unwrap(wrapped) }
    }

    @Test("a value from another data key is unknown-key; malformed text is refused")
    func refusals() throws {
        let value = try TenantDataKey(tenant: "acme").encrypt(apiKey, field: "a")
        do {
            _ = try TenantDataKey(tenant: "acme").decrypt(value, field: "a")
            Issue.record("decrypted with another key")
        } catch {
            #expect(error.code == .unknownKey)
        }
        #expect(throws: SigilCryptoError.self) { try EncryptedValue(parsing: "sk_live_plain") }
        #expect(throws: SigilCryptoError.self) { try KeyEncryptionKey(keyID: "short", material: [1, 2, 3]) }
    }

    @Test("identifier HMACs are stable per key and reveal nothing of the identifier")
    func hmac() throws {
        let hmac = try IdentifierHMAC(material: Array(repeating: 1, count: 32))
        let digest = hmac.digest("token-abc")
        #expect(digest == hmac.digest("token-abc"))
        #expect(digest != hmac.digest("token-abd"))
        #expect(digest.hasPrefix("hmac-sha256:") && !digest.contains("token"))
        #expect(try IdentifierHMAC(material: Array(repeating: 2, count: 32)).digest("token-abc") != digest)
    }
}

extension Array where Element == UInt8 {
    func containsSubsequence(_ needle: [UInt8]) -> Bool {
        guard needle.count <= count else { return false }
        return (0...(count - needle.count)).contains { Array(self[$0..<($0 + needle.count)]) == needle }
    }
}
