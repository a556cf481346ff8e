import Foundation
import SigilClient
import SigilEvents
import SigilTestSupport
import Testing

/// The audit log as a security team uses it: a JSON file log stream receives the flows and the signed checkpoints;
/// `sigil audit verify` names the first broken row after each edit made behind Sigil's back with psql, and
/// `--against` the shipped checkpoints finds a log cut short, which the chain alone cannot show.
extension AccessFlowEndToEndTests {
    static let auditStreamPath = "e2e/audit.jsonl"

    /// Before the flows: the streams every record (and checkpoint) will reach — a JSON file, rsyslog over TCP
    /// (RFC 5424) and rsyslog over TLS (CEF), both real rsyslog processes started here.
    func applyAuditStreams(_ admin: AdminClient) async throws -> [RsyslogReceiver] {
        let tcp = try RsyslogReceiver()
        let tls = try RsyslogReceiver(tls: true)
        let ca = try #require(tls.caPEM)
        try tcp.start()
        try tls.start()
        let streams = [
            ResourceDocument(
                kind: .logStream, name: "e2e-file",
                spec: ["destination": ["type": "file", "path": .string(Self.auditStreamPath)], "format": "json"]),
            ResourceDocument(
                kind: .logStream, name: "e2e-syslog",
                spec: [
                    "destination": [
                        "type": "syslog", "transport": "tcp", "host": "127.0.0.1", "port": .number(Double(tcp.port)),
                    ],
                    "format": "rfc5424",
                ]),
            ResourceDocument(
                kind: .logStream, name: "e2e-syslog-tls",
                spec: [
                    "destination": [
                        "type": "syslog", "transport": "tls", "host": "localhost", "port": .number(Double(tls.port)),
                        "ca": .string(ca),
                    ],
                    "format": "cef", "filter": ["outcomes": ["granted", "denied", "refused"]],
                ]),
        ]
        let applied = try await admin.apply(streams)
        #expect(
            applied.map(\.change) == ["created", "created", "created"],
            "\(applied.map { "\($0.status) \($0.detail ?? "")" })")
        return [tcp, tls]
    }

    func checkAuditLog(_ constellation: LocalConstellation, receivers: [RsyslogReceiver]) async throws {
        let settings = constellation.settings
        // The flows reached rsyslog: RFC 5424 over TCP (MSGID = outcome), CEF over TLS (filtered to decisions).
        try await AdminClient.waitFor("rsyslog to receive the flows over TCP and TLS", within: .seconds(30)) {
            let plain = receivers[0].lines
            let cef = receivers[1].lines
            let received =
                plain.contains { $0.hasPrefix("granted sigil [sigil@32473 ") }
                && plain.contains { $0.hasPrefix("denied sigil [sigil@32473 ") }
                && cef.contains { $0.contains("CEF:0|Sigil|Sigil|0.2|") && $0.contains("|granted|") }
                && cef.contains { $0.contains("|denied|") }
            return received ? true : nil
        }
        #expect(
            !receivers[1].lines.contains { $0.contains("|requested|") },
            "the TLS stream's filter let other outcomes through")
        let file = try #require(settings["SIGIL_AUDIT_FILE_DIR"]) + "/" + Self.auditStreamPath
        // The stream got the flows and, within the checkpoint interval, signed checkpoints.
        try await AdminClient.waitFor("the file stream to hold the flows and a checkpoint", within: .seconds(30)) {
            let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
            return ["\"outcome\":\"granted\"", "\"outcome\":\"denied\"", AuditCheckpointed.eventType.description]
                .allSatisfy(text.contains) ? true : nil
        }
        let tenant = try constellation.psql("SELECT tenant FROM audit.events WHERE outcome = 'granted' LIMIT 1")
        let verified = try await constellation.sigil(["audit", "verify"])
        #expect(verified.status == 0 && verified.output.contains("audit log verified"), "\(verified.output)")

        // A chain with a few rows, not the checkpoints' own; its rows 2 and 3 are edited below.
        let chain = try constellation.psql(
            """
            SELECT topic || '|' || partition FROM audit.events WHERE tenant = '\(tenant)'
              AND topic <> 'sigil.audit.checkpoints' GROUP BY topic, partition HAVING max(sequence) >= 4
            ORDER BY max(sequence) DESC LIMIT 1
            """
        ).split(separator: "|")
        try #require(chain.count == 2, "no chain of four rows")
        let (topic, partition) = (String(chain[0]), String(chain[1]))
        let row = "tenant = '\(tenant)' AND topic = '\(topic)' AND partition = \(partition)"
        let name = "\(tenant)/\(topic)/\(partition)"
        func expectBroken(at sequence: Int, _ reason: String, against: String? = nil) async throws {
            let result = try await constellation.sigil(
                ["audit", "verify"] + (against.map { ["--against", $0] } ?? []))
            #expect(result.status == 1, "\(result.output)")
            #expect(result.output.contains("BROKEN \(name) at sequence \(sequence)"), "\(result.output)")
            #expect(result.output.contains(reason), "\(result.output)")
        }

        // Updated: the row's data changed.
        _ = try constellation.psql("UPDATE audit.events SET data = data || ' ' WHERE \(row) AND sequence = 2")
        try await expectBroken(at: 2, "does not match its contents")
        _ = try constellation.psql("UPDATE audit.events SET data = rtrim(data) WHERE \(row) AND sequence = 2")

        // Deleted: the next row names the gap.
        _ = try constellation.psql(
            """
            CREATE TABLE audit.e2e_removed AS SELECT * FROM audit.events WHERE \(row) AND sequence = 2;
            DELETE FROM audit.events WHERE \(row) AND sequence = 2
            """)
        try await expectBroken(at: 3, "rows are missing")
        _ = try constellation.psql(
            "INSERT INTO audit.events SELECT * FROM audit.e2e_removed; DROP TABLE audit.e2e_removed")

        // Inserted: a forged row after the chain's end (with an id of its own: the log holds each event id once).
        _ = try constellation.psql(
            """
            INSERT INTO audit.events SELECT tenant, topic, partition, 1000000, kafka_offset, event_id || '-forged',
                event_type, source, subject, partition_key, traceparent, content_type, time_attribute, occurred_at,
                data, signature, outcome, client_workload, server_workload, previous_hash, hash, recorded_at
            FROM audit.events WHERE \(row) AND sequence = 3
            """)
        try await expectBroken(at: 1_000_000, "rows are missing")
        _ = try constellation.psql("DELETE FROM audit.events WHERE \(row) AND sequence = 1000000")
        let restored = try await constellation.sigil(["audit", "verify"])
        #expect(restored.status == 0, "\(restored.output)")

        // Cut short: the chain alone still holds, the shipped checkpoints do not.
        let checkpointed = try await constellation.sigil(["audit", "verify", "--against", file])
        #expect(checkpointed.status == 0 && !checkpointed.output.contains(" 0 checkpoints"), "\(checkpointed.output)")
        let fromTopic = try await constellation.sigil(["audit", "verify", "--against", "checkpoints"])
        #expect(fromTopic.status == 0, "\(fromTopic.output)")
        _ = try constellation.psql(
            """
            CREATE TABLE audit.e2e_cut AS SELECT * FROM audit.events WHERE \(row) AND sequence >= 2;
            DELETE FROM audit.events WHERE \(row) AND sequence >= 2
            """)
        let cut = try await constellation.sigil(["audit", "verify", "--against", file])
        #expect(cut.status == 1, "\(cut.output)")
        #expect(cut.output.contains("BROKEN \(name)") && cut.output.contains("signed checkpoint"), "\(cut.output)")
        _ = try constellation.psql("INSERT INTO audit.events SELECT * FROM audit.e2e_cut; DROP TABLE audit.e2e_cut")
        let whole = try await constellation.sigil(["audit", "verify"])
        #expect(whole.status == 0, "\(whole.output)")
    }
}
