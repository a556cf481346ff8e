import Foundation
import SigilEvents

/// Turns audit records into the bytes a log stream delivers: one message per record, without framing (the
/// destination frames: a line for files, octet counting for syslog over TCP, a datagram for UDP).
struct LogRecordFormatter: Sendable {
    let format: LogFormat
    /// For the RFC 5424 header (the audit service's host).
    let hostname: String

    /// For syslog: the record as an RFC 5424 message. With format `rfc5424` its fields travel as structured data;
    /// with `json`, `cef` or `ocsf` that text is the message (as SIEM syslog collectors expect CEF and JSON).
    func syslogMessage(_ record: AuditRecord) -> [UInt8] {
        switch format {
        case .rfc5424: RFC5424Message(record, hostname: hostname, structured: true, message: summary(record)).bytes
        default: RFC5424Message(record, hostname: hostname, structured: false, message: text(record)).bytes
        }
    }

    /// For files and other line-based destinations: the record as one line of text (no newline).
    func text(_ record: AuditRecord) -> String {
        switch format {
        case .json: Self.json(AuditRecordDocument(record))
        case .ocsf: Self.json(OCSFEvent(record), encoder: OCSFEvent.encoder)
        case .cef: CEFMessage(record).text
        case .rfc5424: String(decoding: syslogMessage(record), as: UTF8.self)
        }
    }

    /// One line a person can read: what happened, to whom.
    func summary(_ record: AuditRecord) -> String {
        var parts = [record.outcome ?? record.event.type.description]
        if let client = record.clientWorkload { parts.append("client=\(client)") }
        if let server = record.serverWorkload { parts.append("server=\(server)") }
        if let subject = record.event.subject { parts.append("subject=\(subject)") }
        return parts.joined(separator: " ")
    }

    static func json(_ value: some Encodable, encoder: JSONEncoder = EventJSON.encoder) -> String {
        String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// Outcomes a security team looks at first.
    static func isWarning(_ record: AuditRecord) -> Bool {
        ["denied", "refused", "attestation-failed", "dead-lettered"].contains(record.outcome ?? "")
    }
}
