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
        let severity = LogRecordFormatter.isWarning(record) ? 4 : 6
        var header = "<\(Self.facility * 8 + severity)>1 \(record.event.timeAttribute) "
        header += Self.headerField(hostname, maximum: 255) + " sigil - "
        header += Self.headerField(record.outcome ?? "event", maximum: 32) + " "
        if structured {
            var parameters: [(String, String?)] = [
                ("tenant", record.tenant), ("id", record.event.id), ("type", record.event.type.description),
                ("outcome", record.outcome), ("clientWorkload", record.clientWorkload),
                ("serverWorkload", record.serverWorkload), ("subject", record.event.subject),
                ("source", record.event.source), ("chain", record.chain.description),
            ]
            parameters += [("sequence", String(record.sequence)), ("hash", record.hash.hex)]
            header += "[\(Self.structuredDataID)"
            for (name, value) in parameters {
                guard let value else { continue }
                header += " \(name)=\"\(Self.parameterValue(value))\""
            }
            header += "]"
        } else {
            header += "-"
        }
        // The message is UTF-8 text: marked with the BOM RFC 5424 section 6.4 asks for.
        bytes = Array(header.utf8) + [0x20, 0xEF, 0xBB, 0xBF] + Array(message.utf8)
    }

    /// HOSTNAME, APP-NAME, MSGID: printable US-ASCII without spaces; "-" when nothing is left.
    static func headerField(_ text: String, maximum: Int) -> String {
        let printable = String(text.unicodeScalars.filter { $0.value > 32 && $0.value < 127 }.prefix(maximum))
        return printable.isEmpty ? "-" : String(printable)
    }

    /// PARAM-VALUE: '"', '\' and ']' escaped with a backslash (section 6.3.3).
    static func parameterValue(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "\"" || character == "\\" || character == "]" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
