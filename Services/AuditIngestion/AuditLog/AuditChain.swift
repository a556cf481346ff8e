import Crypto
import SigilCrypto
import SigilEvents

/// One hash chain of the audit log: the records of one tenant read from one partition of one topic, in offset order.
/// A partition has exactly one writer at a time (the projection's offsets are claimed per partition, see
/// `ProjectionOffsets.claim`), so every chain has exactly one writer however many audit replicas run.
struct AuditChainID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    let tenant: String
    let topic: String
    let partition: Int32

    var description: String { "\(tenant)/\(topic)/\(partition)" }

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.tenant, lhs.topic, lhs.partition) < (rhs.tenant, rhs.topic, rhs.partition)
    }
}

/// Where a chain ends: its last sequence and hash.
struct AuditChainHead: Sendable, Equatable, Codable {
    var sequence: Int64
    var hash: [UInt8]

    static let genesis = AuditChainHead(sequence: 0, hash: [UInt8](repeating: 0, count: 32))
}

enum AuditChain {
    /// SHA-256 over the previous hash and the record: its chain, sequence and offset, then the event exactly as its
    /// producer signed it (`CloudEvent.signingInput`: every attribute and the data bytes as received) and the
    /// signature. Every field is length-prefixed. Since the stored row keeps the signed bytes, `sigil audit verify`
    /// also checks each producer's signature: a row rewritten with a recomputed chain still fails there.
    static func hash(
        previous: [UInt8], chain: AuditChainID, sequence: Int64, offset: Int64, event: CloudEvent
    ) -> [UInt8] {
        let signature = event.signature ?? ""
        let inputCount = event.signingInputCount
        let capacity =
            tag.count + previous.count + 4 + chain.tenant.utf8.count + 4 + chain.topic.utf8.count + 4 + 8 + 8 + 4
            + inputCount + 4 + signature.utf8.count
        // Gathered and hashed in one call, with no copy of the event: every record ingested is hashed here.
        let digest = GatheredHash.sha256(capacity: capacity) { append in
            func field(_ text: String) {
                var text = text
                withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian, append)
                text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
            }
            tag.withUnsafeBytes(append)
            previous.withUnsafeBytes(append)
            field(chain.tenant)
            field(chain.topic)
            withUnsafeBytes(of: chain.partition.bigEndian, append)
            withUnsafeBytes(of: sequence.bigEndian, append)
            withUnsafeBytes(of: offset.bigEndian, append)
            withUnsafeBytes(of: UInt32(inputCount).bigEndian, append)
            event.writeSigningInput(append)
            field(signature)
        }
        return Array(digest)
    }

    private static let tag = Array("sigil-audit-chain-v1".utf8)
}

extension Array where Element == UInt8 {
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(count * 2)
        for byte in self {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
