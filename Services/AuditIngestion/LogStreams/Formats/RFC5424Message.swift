import Foundation

/// An RFC 5424 syslog message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG`. Facility 13
/// (log audit); severity warning for denials and refusals, informational otherwise. Structured data goes under the
/// SD-ID `sigil@32473` (32473 is the private enterprise number RFC 5612 sets aside for examples and documentation;
/// a registered number replaces it once Sigil has one).
struct RFC5424Message {
    static let facility = 13
    static let structuredDataID = "sigil@32473"

    let bytes: [UInt8]

    init(_ record: AuditRecord, hostname: String, structured: Bool, message: String) {
        // Written as bytes: a log stream formats every record it delivers, and String concatenation with
        // Character-by-Character escaping was most of a syslog stream's cost.
        let severity = LogRecordFormatter.isWarning(record) ? 4 : 6
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512 + message.utf8.count)
        bytes += "<\(Self.facility * 8 + severity)>1 ".utf8
        bytes += record.event.timeAttribute.utf8
        bytes.append(0x20)
        Self.appendHeaderField(hostname, maximum: 255, to: &bytes)
        bytes += " sigil - ".utf8
        Self.appendHeaderField(record.outcome ?? "event", maximum: 32, to: &bytes)
        bytes.append(0x20)
        if structured {
            let parameters: [(String, String?)] = [
                ("tenant", record.tenant), ("id", record.event.id), ("type", record.event.type.description),
                ("outcome", record.outcome), ("clientWorkload", record.clientWorkload),
                ("serverWorkload", record.serverWorkload), ("subject", record.event.subject),
                ("source", record.event.source), ("chain", record.chain.description),
                ("sequence", String(record.sequence)), ("hash", record.hash.hex),
            ]
            bytes += "[\(Self.structuredDataID)".utf8
            for (name, value) in parameters {
                guard let value else { continue }
                bytes.append(0x20)
                bytes += name.utf8
                bytes += "=\"".utf8
                Self.appendParameterValue(value, to: &bytes)
                bytes.append(0x22)
            }
            bytes.append(0x5D)
        } else {
            bytes.append(0x2D)
        }
        // The message is UTF-8 text: marked with the BOM RFC 5424 section 6.4 asks for.
        bytes += [0x20, 0xEF, 0xBB, 0xBF]
        bytes += message.utf8
        self.bytes = bytes
    }

    /// HOSTNAME, APP-NAME, MSGID: printable US-ASCII without spaces; "-" when nothing is left. (Bytes of non-ASCII
    /// characters are all 0x80 or above, so filtering bytes drops exactly the characters that are not allowed.)
    static func appendHeaderField(_ text: String, maximum: Int, to bytes: inout [UInt8]) {
        let start = bytes.count
        for byte in text.utf8 where byte > 32 && byte < 127 {
            bytes.append(byte)
            if bytes.count - start == maximum { break }
        }
        if bytes.count == start { bytes.append(0x2D) }
    }

    /// PARAM-VALUE: '"', '\' and ']' escaped with a backslash (section 6.3.3). All three are ASCII, so escaping the
    /// UTF-8 bytes is escaping the characters.
    static func appendParameterValue(_ text: String, to bytes: inout [UInt8]) {
        for byte in text.utf8 {
            if byte == 0x22 || byte == 0x5C || byte == 0x5D { bytes.append(0x5C) }
            bytes.append(byte)
        }
    }
}
