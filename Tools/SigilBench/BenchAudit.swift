import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import SigilClient
import SigilCrypto
import SigilEvents
import SigilKafka

/// The audit side under load: `events` records of edge activity (signed with the edge's key, read from its process,
/// as an edge would publish them) go onto the bus at once; measured is how fast sigil-audit takes them in (signature
/// checked, chained, stored: rows per second from the first to the last), then how fast a syslog log stream delivers
/// them to rsyslog over TCP, and how many arrive. The anchor: the same number of messages of the same size written
/// straight to a second rsyslog over one TCP connection.
struct BenchAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Audit ingestion rate, and syslog delivery to rsyslog beside a direct sender.")

    @OptionGroup var options: BenchOptions
    @Option(help: "Records published.") var events = 200_000
    /// Records published at a time, and at most this many ahead of what is recorded: enough for both audit lanes to
    /// hold a batch and read one ahead, and at most ~4 MB unread in any partition of the six (the mock broker keeps
    /// 5 MiB of each; the 1,024 partition keys spread the records within a few percent of evenly).
    @Option(help: "Records published at a time.") var chunk = 5_000
    @Option(help: "Records published at most ahead of what is recorded.") var backlog = 20_000
    /// Reports signed under one signature.
    @Option(help: "Records signed together, as an edge's batcher signs its reports.") var signingBatch = 100
    @Option(help: "The rsyslog the log stream delivers to (imtcp).") var rsyslogPort = 18_514
    @Option(help: "Its output file (one line per message).") var rsyslogOutput: String
    @Option(help: "The anchor rsyslog (imtcp), written to directly.") var anchorPort = 18_515
    @Option(help: "Its output file.") var anchorOutput: String

    struct Result: Encodable {
        let events: Int
        let ingestSeconds: Double
        let ingestPerSecond: Double
        let streamStartSeconds: Double
        let deliverySeconds: Double
        let deliveryPerSecond: Double
        let delivered: Int
        let lost: Int
        let anchorSeconds: Double
        let anchorPerSecond: Double
        /// CPU time per record ingested, in microseconds, by process (and the whole machine's), from the first
        /// record recorded to the last: where the two cores went.
        let ingestCPUMicroseconds: [String: Double]
    }

    /// CPU seconds so far of the processes ingestion runs through.
    func cpuSnapshot(audit: Int, broker: Int, postgres: Int) -> [String: Double] {
        [
            "sigil-audit": ProcessCPU.seconds(of: audit), "postgres": ProcessCPU.seconds(ofTree: postgres),
            "broker": ProcessCPU.seconds(of: broker), "producer": ProcessCPU.seconds(of: Int(getpid())),
            "machine": ProcessCPU.machineBusy(),
        ]
    }

    func run() async throws {
        let edge = try options.environment(of: "sigil-edge")
        guard let key = edge["SIGIL_SIGNING_KEY"].flatMap({ Data(base64Encoded: $0) }),
            let keyID = edge["SIGIL_SIGNING_KEY_ID"], let brokers = edge["SIGIL_KAFKA_BROKERS"]
        else { throw ValidationError("the edge's signing key or the broker is not known") }
        let signer = try EventSigner(role: .edge, keyID: keyID, material: Array(key))
        let admin = options.admin
        let tenant = try await whoami(admin)
        let run = UUID().uuidString.prefix(8).lowercased()

        // Signed before the clock starts: the producer's cost is not the audit's.
        let topic = SigilTopics().name(.edgeActivity)
        let source = EventSource(service: "edge", instance: "bench")
        let target = AccessTarget(scheme: "https", host: "api.bench.internal", port: 443)
        var messages: [KafkaProducerMessage] = []
        messages.reserveCapacity(events)
        // Signed as edges sign their reports (`EventBatcher`): what 5 ms of linger gathers at 20,000 requests/s.
        for start in stride(from: 0, to: events, by: signingBatch) {
            let batch = try (start..<min(start + signingBatch, events)).map { index in
                let request = "bench-\(run)-\(index)"
                let proxied = RequestProxied(
                    edgeID: "bench-edge", requestID: request, target: target, status: 200, bytes: 512,
                    latencyMilliseconds: 1.25)
                // Keyed as requests from many edges are: spread over the partitions (64 keys put 28% in one).
                return try proxied.cloudEvent(
                    source: source, tenant: tenant, partitionKey: "bench-edge-\(index % 1024)", subject: request)
            }
            messages.append(contentsOf: try signer.sign(batch: batch).map { $0.kafkaMessage(topic: topic) })
        }
        let before = try await recorded(admin, tenant: tenant)
        let producer = try KafkaProducer(
            configuration: .init(client: .init(bootstrapServers: brokers, clientID: "sigil-bench-audit")),
            logger: Logger(label: "sigil-bench"))
        // Published in chunks, at most `backlog` ahead of what is recorded: the audit service always has work
        // waiting, and the mock broker (which keeps only a few MiB per partition) never drops unread records.
        var first: ContinuousClock.Instant?
        var last = ContinuousClock.now
        var published = 0
        var count = 0
        var countAtFirst = 0
        let deadline = ContinuousClock.now + .seconds(600)
        let appliedBefore = try await options.applied(service: "SIGIL_AUDIT_URL", projection: "audit-log")
        let (auditPID, brokerPID, postgresPID) = (
            try options.pid(of: "sigil-audit"), try options.pid(of: "broker"), try options.postgresPID()
        )
        var cpuAtFirst: [String: Double] = [:]
        var cpuAtEnd: [String: Double] = [:]
        var appliedAtEnd = 0
        // Paced by the audit service's own count of applied records (a cheap HTTP read every 10 ms); the end is
        // confirmed by the chains' lengths in the database.
        while count < events {
            guard ContinuousClock.now < deadline else {
                throw ValidationError("sigil-audit recorded \(count) of \(events)")
            }
            let applied = try await options.applied(service: "SIGIL_AUDIT_URL", projection: "audit-log") - appliedBefore
            if published < events && published - applied <= backlog - chunk {
                for message in messages[published..<min(events, published + chunk)] { try producer.send(message) }
                published = min(events, published + chunk)
            } else {
                try await Task.sleep(for: .milliseconds(10))
            }
            if applied > 0 && first == nil {
                (first, countAtFirst) = (ContinuousClock.now, applied)
                cpuAtFirst = cpuSnapshot(audit: auditPID, broker: brokerPID, postgres: postgresPID)
            }
            if applied >= events {
                if cpuAtEnd.isEmpty {
                    (cpuAtEnd, appliedAtEnd) = (
                        cpuSnapshot(audit: auditPID, broker: brokerPID, postgres: postgresPID), applied
                    )
                }
                count = try await recorded(admin, tenant: tenant) - before
            }
            last = ContinuousClock.now
        }
        let ingest = Self.seconds(last - (first ?? last))
        let measured = Double(max(appliedAtEnd - countAtFirst, 1))
        let cpuPerRecord = cpuAtEnd.reduce(into: [String: Double]()) { perRecord, end in
            perRecord[end.key] = (end.value - (cpuAtFirst[end.key] ?? end.value)) * 1e6 / measured
        }

        // Delivery: a stream of this run's records only, from the beginning of the log.
        let stream = ResourceDocument(
            kind: .logStream, name: "bench-syslog-\(run)",
            spec: [
                "destination": [
                    "type": "syslog", "transport": "tcp", "host": "127.0.0.1", "port": .number(Double(rsyslogPort)),
                ],
                "format": "rfc5424", "filter": ["eventTypes": [.string(RequestProxied.eventType.description)]],
            ])
        _ = try await admin.apply([stream])
        // Timed from the first record received to the last, as ingestion is: the stream's start (admission, the
        // audit service picking the new stream up within a second) is reported apart.
        let applied = ContinuousClock.now
        let received = LineCounter(path: rsyslogOutput)
        var delivered = 0
        var firstReceived: ContinuousClock.Instant?
        var deliveredAtFirst = 0
        try await AdminClient.waitFor("rsyslog to receive the stream", within: .seconds(600)) { () -> Bool? in
            delivered = received.count()
            if delivered > 0 && firstReceived == nil {
                (firstReceived, deliveredAtFirst) = (ContinuousClock.now, delivered)
            }
            return delivered >= events ? true : nil
        }
        let delivery = Self.seconds(ContinuousClock.now - (firstReceived ?? applied))
        let streamStart = Self.seconds((firstReceived ?? applied) - applied)
        let distinct = Self.distinctRequests(rsyslogOutput, marker: "bench-\(run)-")
        _ = try? await admin.send(.DELETE, try admin.url(for: .logStream, name: "bench-syslog-\(run)"))

        // The anchor: messages of the same size, octet-counted, over one connection.
        let sample = Self.sampleMessage(rsyslogOutput, marker: "bench-\(run)-")
        // The anchor from the first byte sent: a connection and nothing to start.
        let anchorReceived = LineCounter(path: anchorOutput)
        let anchorStart = ContinuousClock.now
        try await Self.send(count: events, message: sample, port: anchorPort)
        try await AdminClient.waitFor("the anchor rsyslog to receive them", within: .seconds(600)) { () -> Bool? in
            anchorReceived.count() >= events ? true : nil
        }
        let anchor = Self.seconds(ContinuousClock.now - anchorStart)
        try printJSON(
            Result(
                events: events, ingestSeconds: ingest,
                ingestPerSecond: Double(events - countAtFirst) / max(ingest, 0.001),
                streamStartSeconds: streamStart, deliverySeconds: delivery,
                deliveryPerSecond: Double(events - deliveredAtFirst) / max(delivery, 0.001),
                delivered: delivered, lost: events - distinct, anchorSeconds: anchor,
                anchorPerSecond: Double(events) / max(anchor, 0.001),
                ingestCPUMicroseconds: cpuPerRecord))
    }

    func whoami(_ admin: AdminClient) async throws -> String {
        let (status, body, _) = try await admin.send(.GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/whoami")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any],
            let tenant = object["tenant"] as? String
        else { throw ValidationError("whoami failed (\(status))") }
        return tenant
    }

    /// Records of the tenant on the edge-activity topic so far (the sum of its chains' lengths).
    func recorded(_ admin: AdminClient, tenant: String) async throws -> Int {
        let url = try admin.setting("SIGIL_POSTGRES_URL")
        let (status, output) = try await ProcessLauncher.runDetached(
            "/usr/bin/psql",
            [
                url, "-At", "-c",
                "SELECT coalesce(sum(sequence), 0) FROM audit.chain_heads WHERE tenant = '\(tenant)' AND topic = 'sigil.edge.activity'",
            ])
        guard status == 0, let count = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ValidationError("psql failed: \(output)")
        }
        return count
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func lines(_ path: String, marker: String) -> [Substring] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { $0.contains(marker) }
    }

    /// Lines appended to a file, counted by reading only what was added since the last call (reading a file of
    /// 100 MiB again on every poll would take the CPU the measured processes need).
    final class LineCounter: @unchecked Sendable {
        let path: String
        private var offset: UInt64 = 0
        private var lines = 0

        init(path: String) { self.path = path }

        func count() -> Int {
            guard let handle = FileHandle(forReadingAtPath: path) else { return lines }
            defer { try? handle.close() }
            try? handle.seek(toOffset: offset)
            let data = handle.readDataToEndOfFile()
            offset += UInt64(data.count)
            lines += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
            return lines
        }
    }

    /// Distinct request ids received (a record delivered twice counts once).
    static func distinctRequests(_ path: String, marker: String) -> Int {
        var seen = Set<Substring>()
        for line in lines(path, marker: marker) {
            guard let start = line.range(of: "subject=\"")?.upperBound,
                let end = line[start...].firstIndex(of: "\"")
            else { continue }
            seen.insert(line[start..<end])
        }
        return seen.count
    }

    /// A message as long as the stream's, for the anchor.
    static func sampleMessage(_ path: String, marker: String) -> String {
        let length = lines(path, marker: marker).first?.utf8.count ?? 400
        let header = "<110>1 2026-01-01T00:00:00.000Z bench sigil - proxied - anchor-"
        return header + String(repeating: "x", count: max(0, length - header.utf8.count))
    }

    static func send(count: Int, message: String, port: Int) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port).get()
        let frame = "\(message.utf8.count) \(message)"
        var sent = 0
        while sent < count {
            var buffer = ByteBuffer()
            for _ in 0..<min(1000, count - sent) { buffer.writeString(frame) }
            sent += min(1000, count - sent)
            try await channel.writeAndFlush(buffer).get()
        }
        try await channel.close().get()
    }
}
