import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilProjection
import SigilService
import SigilTestSupport
import Testing

@testable import AuditIngestion

/// Log streams against real receivers: rsyslog over TCP (RFC 5424, octet counting), over TLS (gnutls, CEF) and over
/// UDP; files in JSON and OCSF. Records come from a real audit projection (mock broker, real PostgreSQL).
@Suite("Log streams: delivered to rsyslog and files, every record at least once, through an outage")
struct LogStreamDeliveryTests {
    let logger = Logger(label: "test.log-streams")
    let topic = "events"

    @Test(
        "rsyslog over TCP and TLS, UDP and files get every record in their format; a receiver down for a while gets all"
    )
    func deliveredToReceivers() async throws {
        let tcp = try RsyslogReceiver()
        let tls = try RsyslogReceiver(tls: true)
        let ca = try #require(tls.caPEM)
        try tcp.start()
        try tls.start()
        let files = FileManager.default.temporaryDirectory.appendingPathComponent("audit-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: files, withIntermediateDirectories: true)
        defer {
            tcp.stop()
            tls.stop()
        }

        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let onlyCreated = LogFilter(eventTypes: [TenantCreated.eventType.description])
            let streams = [
                Self.stream(
                    "syslog-tcp",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .tcp, host: "127.0.0.1", port: tcp.port)),
                        format: .rfc5424, filter: onlyCreated)),
                Self.stream(
                    "syslog-tls",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .tls, host: "127.0.0.1", port: tls.port, ca: ca)),
                        format: .cef)),
                Self.stream(
                    "syslog-udp",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .udp, host: "127.0.0.1", port: tcp.port)),
                        format: .json)),
                Self.stream(
                    "file-json",
                    LogStreamSpec(
                        destination: .file(.init(path: "json/audit.jsonl", maxBytes: 64 * 1024, keep: 50)),
                        format: .json)),
                Self.stream(
                    "file-ocsf",
                    LogStreamSpec(
                        destination: .file(.init(path: "audit.ocsf.jsonl", maxBytes: 1 << 30, keep: 1)), format: .ocsf)
                ),
            ]
            let first = try await log.publish(300, topic: topic)
            try await log.whileDelivering(streams, environment: LogSenderEnvironment(fileDirectory: files.path)) {

                func received(_ receiver: RsyslogReceiver, _ ids: [String], marker: (String) -> String) -> Bool {
                    let text = receiver.lines.joined(separator: "\n")
                    return ids.allSatisfy { text.contains(marker($0)) }
                }
                func fileText(_ path: String) -> String {
                    let names =
                        (try? FileManager.default.contentsOfDirectory(
                            atPath: files.appendingPathComponent(path).deletingLastPathComponent().path)) ?? []
                    let base = (path as NSString).lastPathComponent
                    return names.filter { $0.hasPrefix(base) }.compactMap {
                        try? String(
                            contentsOf: files.appendingPathComponent(path).deletingLastPathComponent()
                                .appendingPathComponent($0), encoding: .utf8)
                    }.joined()
                }
                let all = first.created + first.deleted
                try await Self.waitUntil("rsyslog over TCP to get every TenantCreated") {
                    received(tcp, first.created) { "id=\"\($0)\"" }
                }
                try await Self.waitUntil("rsyslog over TLS to get every record") {
                    received(tls, all) { "externalId=\($0)" }
                }
                try await Self.waitUntil("the files to hold every record") {
                    let json = fileText("json/audit.jsonl")
                    let ocsf = fileText("audit.ocsf.jsonl")
                    return all.allSatisfy { json.contains("\"id\":\"\($0)\"") && ocsf.contains("\"uid\":\"\($0)\"") }
                }
                // The filter held: no TenantDeleted went to the TCP stream (the JSON lines are the UDP stream's).
                let structured = tcp.lines.filter { $0.contains("[sigil@32473 ") }
                #expect(!first.deleted.contains { id in structured.contains { $0.contains(id) } })
                // RFC 5424 fields arrived parsed: MSGID, APP-NAME, structured data with escaped values.
                let line = try #require(tcp.lines.first { $0.contains("id=\"\(first.created[0])\"") })
                #expect(line.hasPrefix("tenant-changed sigil [sigil@32473 tenant=\"acme\""), "\(line)")
                #expect(line.contains("type=\"\(TenantCreated.eventType)\""))
                #expect(line.contains(#"subject="s0 \"q\" \]x= |y\\""#), "\(line)")
                // CEF: header escaped, extension values escaped.
                let cef = try #require(tls.lines.first { $0.contains("externalId=\(first.created[0])") })
                #expect(cef.contains("CEF:0|Sigil|Sigil|0.2|\(TenantCreated.eventType)|tenant-changed|3|"), "\(cef)")
                #expect(cef.contains(#"msg=s0 "q" ]x\= |y\\ "#), "\(cef)")
                // UDP arrived too (no guarantee on the wire; on loopback every datagram does).
                try await Self.waitUntil("rsyslog over UDP to get records") {
                    tcp.lines.contains { $0.contains("\"id\":\"\(first.deleted[0])\"") }
                }
                // The JSON file rotated (64 KiB) and kept every record across its files, once or more.
                let rotated = try FileManager.default.contentsOfDirectory(
                    atPath: files.appendingPathComponent("json").path)
                #expect(rotated.contains("audit.jsonl.1"), "\(rotated)")
                let permissions =
                    try FileManager.default.attributesOfItem(
                        atPath: files.appendingPathComponent("json/audit.jsonl.1").path)[.posixPermissions] as? Int
                #expect(permissions == 0o600)

                // Outage: the TCP receiver stops; records published meanwhile wait; it comes back and gets them.
                tcp.stop()
                let second = try await log.publish(90, topic: topic)
                let progress = LogStreamProgress(
                    streams[0], schema: log.schema, postgres: postgres, owner: "replica-1")
                try await Self.waitUntil("the TCP stream to report its failure and lag") {
                    let status = try await progress.status(destination: "", format: "", logger: logger)
                    return status.lastError != nil && status.lagRecords > 0 && status.consecutiveFailures > 0
                }
                try tcp.start()
                try await Self.waitUntil("rsyslog over TCP, back, to get what it missed", timeout: .seconds(60)) {
                    received(tcp, second.created) { "id=\"\($0)\"" }
                }
                try await Self.waitUntil("the TCP stream's lag to drain") {
                    let status = try await progress.status(destination: "", format: "", logger: logger)
                    return status.lagRecords == 0 && status.consecutiveFailures == 0
                        && status.deliveredRecords >= Int64(first.created.count + second.created.count)
                }
            }
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }

        // Every OCSF line validates against the OCSF models (ocsf-pydantic).
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Receivers/ocsf_validate.py")
        let classes = try await RsyslogReceiver.shell("python3 '\(script.path)' '\(files.path)/audit.ocsf.jsonl'")
        for name in ["api_activity", "authentication", "authorize_session"] {
            #expect(classes.contains("\(name)="), "\(classes)")
        }
    }
}
