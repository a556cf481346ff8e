import Foundation
import SigilEvents
import Testing

@testable import AuditIngestion

@Suite("Audit rows in COPY's text format")
struct AuditRowsCopyTests {
    func record(subject: String?, data: String, time: Date) throws -> AuditRecord {
        var event = try TenantCreated(displayName: "x").cloudEvent(
            source: EventSource(service: "issue", instance: "1"), tenant: "acme", partitionKey: "k", subject: subject)
        event.data = Array(data.utf8)
        event.time = time
        return AuditRecord(
            chain: AuditChainID(tenant: "acme", topic: "sigil.config", partition: 2), sequence: 9, offset: 40,
            event: event, outcome: nil, clientWorkload: "billing", serverWorkload: nil,
            previousHash: [0x00, 0xff], hash: [0xab, 0x01])
    }

    func fields(_ record: AuditRecord) -> [String] {
        var rows = AuditRowsCopy.rows([record])
        let text = rows.readString(length: rows.readableBytes) ?? ""
        #expect(text.hasSuffix("\n") && text.filter { $0 == "\n" }.count == 1, "one row, newline-ended")
        return text.dropLast().split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("every column in order; backslash, tab, newline and CR escaped; NULL as \\N; bytea as escaped hex")
    func escaping() throws {
        let row = fields(
            try record(subject: "a\\b\tc\nd\re é", data: #"{"k":"v\n"}"#, time: Date(timeIntervalSince1970: 0)))
        #expect(row.count == AuditRowsCopy.columns.count)
        let column = Dictionary(uniqueKeysWithValues: zip(AuditRowsCopy.columns, row))
        #expect(column["subject"] == #"a\\b\tc\nd\re é"#)
        #expect(column["data"] == #"{"k":"v\\n"}"#)
        #expect(column["traceparent"] == #"\N"# && column["outcome"] == #"\N"# && column["server_workload"] == #"\N"#)
        #expect(column["client_workload"] == "billing")
        #expect(column["partition"] == "2" && column["sequence"] == "9" && column["kafka_offset"] == "40")
        #expect(column["previous_hash"] == #"\\x00ff"# && column["hash"] == #"\\xab01"#)
        #expect(column["occurred_at"] == "1970-01-01 00:00:00.000000+00")
    }

    @Test("timestamps in UTC with microseconds, rounded as postgres-nio binds a Date; before 1970 too")
    func timestamps() throws {
        func occurred(_ seconds: Double) throws -> String {
            let row = fields(try record(subject: nil, data: "{}", time: Date(timeIntervalSince1970: seconds)))
            return row[AuditRowsCopy.columns.firstIndex(of: "occurred_at")!]
        }
        #expect(try occurred(1_795_658_400.123_456_4) == "2026-11-26 02:00:00.123456+00")
        #expect(try occurred(1_795_658_400.999_999_6) == "2026-11-26 02:00:01.000000+00")
        #expect(try occurred(-1.5) == "1969-12-31 23:59:58.500000+00")
    }
}
