import Crypto
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
        return UUIDv7.format(Array(hash.finalize().prefix(16)), version: 8)
    }
}
