import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SigilEvents

/// A record as an HTTP destination carries it: JSON formats as objects, text formats as strings.
extension LogRecordFormatter {
    func jsonValue(_ record: AuditRecord) -> String {
        let text = text(record)
        switch format {
        case .json, .ocsf: return text
        case .cef, .rfc5424: return Self.json(text)
        }
    }

    var defaultSourcetype: String {
        switch format {
        case .json: "sigil:audit"
        case .ocsf: "ocsf"
        case .cef: "cef"
        case .rfc5424: "syslog"
        }
    }
}

/// Splunk HEC: one POST per batch (events concatenated, as the collector takes them).
final class SplunkHECSender: LogSender {
    let destination: SplunkHECDestination
    let token: String
    let formatter: LogRecordFormatter
    let client: HTTPClient
    /// With acknowledgements, the collector tracks acks per channel: one per stream and process.
    let channel = UUID().uuidString.lowercased()

    init(destination: SplunkHECDestination, token: String, formatter: LogRecordFormatter) throws {
        self.destination = destination
        self.token = token
        self.formatter = formatter
        self.client = try HTTPDestination.client(ca: destination.ca)
    }

    var base: String { destination.url.hasSuffix("/") ? String(destination.url.dropLast()) : destination.url }

    func send(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        var body = ""
        let sourcetype = LogRecordFormatter.json(destination.sourcetype ?? formatter.defaultSourcetype)
        let index = destination.index.map { ",\"index\":\(LogRecordFormatter.json($0))" } ?? ""
        let host = LogRecordFormatter.json(formatter.hostname)
        for record in records {
            let time = String(format: "%.3f", record.event.time.timeIntervalSince1970)
            body += "{\"time\":\(time),\"host\":\(host),\"source\":\"sigil\",\"sourcetype\":\(sourcetype)\(index)"
            body += ",\"event\":\(formatter.jsonValue(record))}"
        }
        let headers = [("Authorization", "Splunk \(token)"), ("X-Splunk-Request-Channel", channel)]
        let answer = try await HTTPDestination.post(
            client, url: base + "/services/collector/event", headers: headers, body: Array(body.utf8))
        guard destination.acknowledgements else { return }
        struct Accepted: Decodable { let ackId: Int? }
        guard let ack = (try? JSONDecoder().decode(Accepted.self, from: Data(buffer: answer)))?.ackId else {
            throw LogDeliveryError(
                description: "the collector gave no ackId: enable indexer acknowledgement on the token")
        }
        try await waitForAcknowledgement(ack, headers: headers)
    }

    /// Polls `/services/collector/ack` until the batch is indexed (up to a minute; then it is sent again).
    private func waitForAcknowledgement(_ ack: Int, headers: [(String, String)]) async throws {
        struct Status: Decodable { let acks: [String: Bool] }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            let answer = try await HTTPDestination.post(
                client, url: base + "/services/collector/ack", headers: headers, body: Array("{\"acks\":[\(ack)]}".utf8)
            )
            if (try? JSONDecoder().decode(Status.self, from: Data(buffer: answer)))?.acks[String(ack)] == true {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw LogDeliveryError(description: "batch \(ack) not acknowledged by the indexer within 60 s")
    }

    func close() async { try? await client.shutdown() }
}

/// Webhook: one signed POST per batch.
final class WebhookSender: LogSender {
    let destination: WebhookDestination
    let key: SymmetricKey
    let formatter: LogRecordFormatter
    let client: HTTPClient

    init(destination: WebhookDestination, secret: String, formatter: LogRecordFormatter) throws {
        self.destination = destination
        self.key = SymmetricKey(data: Array(secret.utf8))
        self.formatter = formatter
        self.client = try HTTPDestination.client(ca: destination.ca)
    }

    func send(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        let items = records.map(formatter.jsonValue).joined(separator: ",")
        let body = Array("{\"format\":\"\(formatter.format.rawValue)\",\"records\":[\(items)]}".utf8)
        let timestamp = String(Int(Date().timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + body, using: key)
        // The same batch sent again carries the same id: the first record's place names it.
        let delivery = records.first.map { "\($0.chain.description)#\($0.sequence)-\(records.count)" } ?? ""
        _ = try await HTTPDestination.post(
            client, url: destination.url,
            headers: [
                ("Sigil-Signature", "t=\(timestamp),v1=\(Array(mac).hex)"), ("Sigil-Delivery", delivery),
            ], body: body)
    }

    func close() async { try? await client.shutdown() }
}
