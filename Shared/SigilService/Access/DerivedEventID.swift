import Crypto
import Foundation
import SigilEvents

/// The id of an event written in response to another: the same cause and type give the same id, so a record handled
/// twice (at-least-once delivery: a replica killed after publishing, before committing its offset) produces the same
/// event twice, not two events, and consumers that keep events by id (the audit log) keep it once.
///
/// A UUID version 8 (RFC 9562, "custom"): the first 16 bytes of SHA-256 over a label, the cause's id and the type,
/// with the version and variant bits set.
public enum DerivedEventID {
    public static func make(from causeID: String, type: EventType) -> String {
        var hash = SHA256()
        hash.update(data: Array("sigil-derived-event-id\u{0}\(causeID)\u{0}\(type.description)".utf8))
        var bytes = Array(hash.finalize().prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x80  // version 8
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
        return uuid.uuidString.lowercased()
    }
}
