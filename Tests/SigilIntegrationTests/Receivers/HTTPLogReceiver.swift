import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// An HTTP Event Collector (Splunk's protocol: `/services/collector/event` with `Authorization: Splunk <token>`,
/// acknowledgements through `/services/collector/ack`) and a webhook endpoint that checks Sigil's signature, in one
/// server on loopback. Everything it accepted is kept; it can refuse for a while (503) to play a receiver that is down.
final class HTTPLogReceiver: Sendable {
    let token: String
    let secret: String
    private let state = Mutex(State())
    private let boundPort = Mutex<Int?>(nil)

    struct State {
        var hecBodies: [String] = []
        var webhookBodies: [String] = []
        var problems: [String] = []
        var refusing = false
        var pendingAcks: [Int: Int] = [:]  // ack id → polls left before it is indexed
        var nextAck = 1
        var deliveries: [String] = []
    }

    init(token: String, secret: String) {
        self.token = token
        self.secret = secret
    }

    var port: Int? { boundPort.withLock { $0 } }
    var hecText: String { state.withLock { $0.hecBodies.joined(separator: "\n") } }
    var webhookText: String { state.withLock { $0.webhookBodies.joined(separator: "\n") } }
    var problems: [String] { state.withLock { $0.problems } }
    var deliveries: [String] { state.withLock { $0.deliveries } }
    func refuse(_ refusing: Bool) { state.withLock { $0.refusing = refusing } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/services/collector/event") { request, _ -> Response in
            let body = String(buffer: try await request.body.collect(upTo: 64 * 1024 * 1024))
            return self.state.withLock { state in
                if state.refusing { return Self.json(.serviceUnavailable, #"{"text":"Server is busy","code":9}"#) }
                guard request.headers[.authorization] == "Splunk \(self.token)" else {
                    state.problems.append("HEC: wrong Authorization")
                    return Self.json(.unauthorized, #"{"text":"Invalid token","code":4}"#)
                }
                guard request.headers[HTTPField.Name("X-Splunk-Request-Channel")!] != nil else {
                    state.problems.append("HEC: no channel")
                    return Self.json(.badRequest, #"{"text":"Data channel is missing","code":10}"#)
                }
                state.hecBodies.append(body)
                let ack = state.nextAck
                state.nextAck += 1
                state.pendingAcks[ack] = 2
                return Self.json(.ok, #"{"text":"Success","code":0,"ackId":\#(ack)}"#)
            }
        }
        router.post("/services/collector/ack") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1024 * 1024)
            struct Query: Decodable { let acks: [Int] }
            let query = try JSONDecoder().decode(Query.self, from: Data(buffer: body))
            return self.state.withLock { state in
                var answer: [String] = []
                for ack in query.acks {
                    let left = state.pendingAcks[ack] ?? 0
                    state.pendingAcks[ack] = max(0, left - 1)
                    answer.append("\"\(ack)\":\(left == 0)")
                }
                return Self.json(.ok, "{\"acks\":{\(answer.joined(separator: ","))}}")
            }
        }
        router.post("/webhook") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 64 * 1024 * 1024)
            let signature = request.headers[HTTPField.Name("Sigil-Signature")!] ?? ""
            let delivery = request.headers[HTTPField.Name("Sigil-Delivery")!] ?? ""
            return self.state.withLock { state in
                if state.refusing { return Response(status: .serviceUnavailable) }
                guard self.verify(signature: signature, body: Array(buffer: body)) else {
                    state.problems.append("webhook: signature does not verify: \(signature)")
                    return Response(status: .unauthorized)
                }
                state.webhookBodies.append(String(buffer: body))
                state.deliveries.append(delivery)
                return Response(status: .noContent)
            }
        }
        var logger = Logger(label: "test.http-log-receiver")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.boundPort.withLock { $0 = channel.localAddress?.port } },
            logger: logger)
    }

    /// `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, at most five minutes old.
    func verify(signature: String, body: [UInt8]) -> Bool {
        var parts: [String: String] = [:]
        for part in signature.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2 { parts[String(pair[0])] = String(pair[1]) }
        }
        guard let time = parts["t"], let seconds = Double(time), abs(Date().timeIntervalSince1970 - seconds) < 300,
            let given = parts["v1"]
        else { return false }
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array("\(time).".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
        return Array(mac).map { String(format: "%02x", $0) }.joined() == given
    }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
