import Foundation
import SigilEvents

/// Where a page of `GET /v1/audit/events` ends: the last record's time (microseconds), chain and sequence, as one
/// opaque URL-safe token. Records are listed by time, then chain and sequence, so the order is total and stable.
struct AuditCursor: Sendable, Equatable {
    let microseconds: Int64
    let topic: String
    let partition: Int32
    let sequence: Int64

    init(microseconds: Int64, topic: String, partition: Int32, sequence: Int64) {
        self.microseconds = microseconds
        self.topic = topic
        self.partition = partition
        self.sequence = sequence
    }

    init(_ record: AuditRecord) {
        self.init(
            microseconds: Int64((record.event.time.timeIntervalSince1970 * 1_000_000).rounded()),
            topic: record.chain.topic, partition: record.chain.partition, sequence: record.sequence)
    }

    var text: String {
        Data("\(microseconds)|\(partition)|\(sequence)|\(topic)".utf8).base64URLEncodedString
    }

    /// Nil for anything that is not a cursor this API gave.
    init?(text: String) {
        guard text.count <= 400 else { return nil }
        guard let data = Data(base64URLEncoded: text), let decoded = String(data: data, encoding: .utf8) else {
            return nil
        }
        let parts = decoded.split(separator: "|", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, let microseconds = Int64(parts[0]), let partition = Int32(parts[1]),
            let sequence = Int64(parts[2]), !parts[3].isEmpty,
            !parts[3].unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        self.init(microseconds: microseconds, topic: String(parts[3]), partition: partition, sequence: sequence)
    }
}
