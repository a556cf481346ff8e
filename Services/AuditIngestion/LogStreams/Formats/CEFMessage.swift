import Foundation

/// ArcSight Common Event Format: `CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension`, as QRadar and
/// ArcSight read it. Header fields escape '\' and '|'; extension values escape '\', '=' and line breaks.
struct CEFMessage {
    let text: String

    init(_ record: AuditRecord) {
        let severity = LogRecordFormatter.isWarning(record) ? 7 : 3
        let header = [
            "CEF:0", "Sigil", "Sigil", "0.2", Self.header(record.event.type.description),
            Self.header(record.outcome ?? record.event.type.event), String(severity),
        ]
        let time = Int64((record.event.time.timeIntervalSince1970 * 1000).rounded())
        var extensions: [(String, String?)] = [
            ("rt", String(time)), ("externalId", record.event.id), ("act", record.outcome),
            ("suser", record.clientWorkload), ("duser", record.serverWorkload), ("msg", record.event.subject),
            ("deviceProcessName", record.event.source),
            ("cs1Label", "tenant"), ("cs1", record.tenant),
            ("cs2Label", "chain"), ("cs2", record.chain.description),
            ("cs3Label", "hash"), ("cs3", record.hash.hex),
        ]
        extensions += [("cn1Label", "sequence"), ("cn1", String(record.sequence))]
        let body = extensions.compactMap { key, value in value.map { "\(key)=\(Self.value($0))" } }
        text = header.joined(separator: "|") + "|" + body.joined(separator: " ")
    }

    static func header(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "|", with: "\\|")
    }

    static func value(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "=", with: "\\=")
            .replacingOccurrences(of: "\r", with: "\\r").replacingOccurrences(of: "\n", with: "\\n")
    }
}
