import Crypto
import Foundation
import SigilEvents
import Testing

@testable import AuditIngestion

@Suite("The audit chain's hash")
struct AuditChainTests {
    /// The layout DESIGN.md documents, assembled byte by byte: `sigil audit verify` of rows written by any version
    /// depends on it never changing.
    @Test("is SHA-256 over the tag, the previous hash, the chain, sequence, offset, signing input and signature")
    func layout() throws {
        var event = try TenantCreated(displayName: "x").cloudEvent(
            source: EventSource(service: "issue", instance: "1"), tenant: "acmé", partitionKey: "k", subject: "s")
        event.signature = "issue-1:c2ln"
        let chain = AuditChainID(tenant: "acmé", topic: "sigil.config", partition: 3)
        let previous = [UInt8](repeating: 7, count: 32)
        func prefixed(_ bytes: [UInt8]) -> [UInt8] {
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { Array($0) } + bytes
        }
        var expected = Array("sigil-audit-chain-v1".utf8) + previous
        expected += prefixed(Array("acmé".utf8)) + prefixed(Array("sigil.config".utf8))
        expected += withUnsafeBytes(of: Int32(3).bigEndian) { Array($0) }
        expected += withUnsafeBytes(of: Int64(41).bigEndian) { Array($0) }
        expected += withUnsafeBytes(of: Int64(900).bigEndian) { Array($0) }
        expected += prefixed(event.signingInput) + prefixed(Array("issue-1:c2ln".utf8))
        let hash = AuditChain.hash(previous: previous, chain: chain, sequence: 41, offset: 900, event: event)
        #expect(hash == Array(SHA256.hash(data: expected)))
        event.signature = nil
        #expect(
            AuditChain.hash(previous: previous, chain: chain, sequence: 41, offset: 900, event: event)
                == Array(SHA256.hash(data: expected.dropLast(16) + prefixed([]))))
    }
}
