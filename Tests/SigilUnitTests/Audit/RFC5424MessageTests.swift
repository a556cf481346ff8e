import Foundation
import SigilEvents
import Testing

@testable import AuditIngestion

@Suite("RFC 5424 messages of syslog log streams")
struct RFC5424MessageTests {
    func record(subject: String, outcome: String? = "granted") throws -> AuditRecord {
        let event = try TenantCreated(displayName: "acme").cloudEvent(
            source: EventSource(service: "policy", instance: "dev-1"), tenant: "acme", partitionKey: "r-1",
            subject: subject)
        return AuditRecord(
            chain: AuditChainID(tenant: "acme", topic: "sigil.access.decisions", partition: 3), sequence: 7, offset: 41,
            event: event, outcome: outcome, clientWorkload: "billing", serverWorkload: nil,
            previousHash: Array(repeating: 0, count: 32), hash: Array(repeating: 0xAB, count: 32))
    }

    func text(_ message: RFC5424Message) -> String { String(decoding: message.bytes, as: UTF8.self) }

    @Test("header, structured data with '\"', '\\\\' and ']' escaped, the BOM before a UTF-8 message")
    func structured() throws {
        let record = try record(subject: #"a"b\c]d é"#)
        let message = RFC5424Message(record, hostname: "host one", structured: true, message: "grant é")
        let text = text(message)
        #expect(
            text.hasPrefix("<110>1 \(record.event.timeAttribute) hostone sigil - granted [sigil@32473 tenant=\"acme\""))
        #expect(text.contains(#" subject="a\"b\\c\]d é""#), "\(text)")
        #expect(text.contains(#" chain="acme/sigil.access.decisions/3" sequence="7" hash="abababab"#))
        #expect(!text.contains("serverWorkload="), "absent values are left out")
        #expect(
            message.bytes.suffix(Array("grant é".utf8).count + 4) == [0x20, 0xEF, 0xBB, 0xBF] + Array("grant é".utf8))
    }

    @Test("header fields keep printable ASCII only, cut to their maximum; '-' when nothing is left; no SD without it")
    func headerFields() throws {
        let long = String(repeating: "h", count: 300)
        let cut = text(RFC5424Message(try record(subject: "s"), hostname: long, structured: false, message: "m"))
        #expect(cut.contains(" \(String(repeating: "h", count: 255)) sigil - granted - "), "\(cut.prefix(300))")
        let empty = text(
            RFC5424Message(try record(subject: "s", outcome: "é é"), hostname: "ü", structured: false, message: "m"))
        #expect(empty.contains(" - sigil - - - "), "\(empty)")
        let denied = text(
            RFC5424Message(try record(subject: "s", outcome: "denied"), hostname: "h", structured: false, message: "m"))
        #expect(denied.hasPrefix("<108>1 "), "warning severity for denials")
    }
}
