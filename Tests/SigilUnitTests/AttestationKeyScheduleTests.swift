import Crypto
import Foundation
import SigilCrypto
import SigilEvents
import Testing

@testable import IdentityAttestation

@Suite("Attestation keys rotate on a schedule every replica derives alike, with an overlap")
struct AttestationKeyScheduleTests {
    let schedule = AttestationKeySchedule(master: SymmetricKey(data: Array(repeating: 7, count: 32)), period: 3_600)

    @Test("replicas derive the same key per period; periods differ; previous, current and next are accepted")
    func derivation() throws {
        let replica = AttestationKeySchedule(master: SymmetricKey(data: Array(repeating: 7, count: 32)), period: 3_600)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let epoch = schedule.epoch(at: now)
        #expect(schedule.key(for: epoch).publicKeyBytes == replica.key(for: epoch).publicKeyBytes)
        #expect(schedule.key(for: epoch).keyID != schedule.key(for: epoch + 1).keyID)
        let other = AttestationKeySchedule(master: SymmetricKey(data: Array(repeating: 8, count: 32)), period: 3_600)
        #expect(other.key(for: epoch).publicKeyBytes != schedule.key(for: epoch).publicKeyBytes)
        let accepted = schedule.acceptedKeys(at: now)
        #expect(Set(accepted.keys) == Set((epoch - 1...epoch + 1).map { schedule.key(for: $0).keyID }))
        #expect(accepted[schedule.key(for: epoch - 2).keyID] == nil)
    }

    @Test("evidence sealed to a period's published key opens with the derived private key")
    func sealsToPublishedKey() throws {
        let key = schedule.key(for: 500_000)
        let context = SealingContext(purpose: "test", associatedData: [1])
        let sealed = try HPKESealing.seal(
            Array("token".utf8), to: try HPKERecipientKey.publicKey(key.publicKeyBytes), recipientKeyID: key.keyID,
            context: context)
        #expect(try schedule.key(for: 500_000).open(sealed, context: context) == Array("token".utf8))
    }
}
