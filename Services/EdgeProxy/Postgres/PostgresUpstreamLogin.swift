import NIOCore
import NIOSSL
import NIOTLS

/// Logs in to a `postgres` server workload for a workload, on the upstream connection: TLS first when the server
/// workload wants it (`SSLRequest`, then the handshake, verified), the startup message with the credential's user,
/// then SCRAM-SHA-256 or MD5 (a password in clear only inside TLS). Every backend message after `AuthenticationOk`
/// up to the first `ReadyForQuery` goes to the workload (`deliver`); `BackendKeyData` is also kept, for cancel
/// requests. Then `finished(.ready)`: the session relays bytes as they are. All within `timeout`. Also forwards a
/// `CancelRequest`.
final class PostgresUpstreamLogin: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Purpose {
        case session(user: String, password: String, version: Int32, parameters: [(String, String)])
        case cancel(key: [UInt8])
    }

    enum Outcome {
        /// Logged in; `leftover` is what followed `ReadyForQuery` in the same read (for the workload); `backend` the
        /// backend's process id and secret key.
        case ready(leftover: ByteBuffer, backend: [UInt8]?)
        case failed(PostgresRefusal)
    }

    private enum Phase {
        case negotiatingTLS, handshaking, authenticating, starting, done
    }

    private let purpose: Purpose
    private let tls: UpstreamTLS?
    private let timeout: TimeAmount
    private let deliver: (ByteBuffer) -> Void
    private var backend: [UInt8]?
    private var finished: ((Outcome) -> Void)?
    private var phase: Phase
    private var buffer = ByteBuffer()
    private var scram: SCRAMClient?

    init(
        _ purpose: Purpose, tls: UpstreamTLS?, timeout: TimeAmount, deliver: @escaping (ByteBuffer) -> Void,
        finished: @escaping (Outcome) -> Void
    ) {
        self.purpose = purpose
        self.tls = tls
        self.timeout = timeout
        self.deliver = deliver
        self.finished = finished
        self.phase = tls == nil ? .starting : .negotiatingTLS
    }

    func channelActive(context: ChannelHandlerContext) {
        if tls != nil {
            context.writeAndFlush(wrapOutboundOut(PostgresStartup.sslRequestMessage), promise: nil)
        } else {
            begin(context)
        }
        context.fireChannelActive()
    }

    /// After TLS (or at once without it): the startup message, or the cancel request (then the server closes).
    private func begin(_ context: ChannelHandlerContext) {
        switch purpose {
        case .session(let user, _, let version, let parameters):
            phase = .authenticating
            let forwarded = parameters.filter { $0.0 != "user" }
            context.writeAndFlush(
                wrapOutboundOut(PostgresWire.startup([("user", user)] + forwarded, version: version)), promise: nil)
        case .cancel(let key):
            phase = .done
            context.writeAndFlush(wrapOutboundOut(PostgresStartup.cancelMessage(key: key)), promise: nil)
            finish(.ready(leftover: ByteBuffer(), backend: nil))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        do {
            try advance(context)
        } catch let refusal as PostgresRefusal {
            fail(context, refusal)
        } catch {
            fail(context, .protocolViolation("the database sent \(error)"))
        }
    }

    private func advance(_ context: ChannelHandlerContext) throws {
        if case .negotiatingTLS = phase {
            guard let answer: UInt8 = buffer.readInteger() else { return }
            guard answer == UInt8(ascii: "S") else {
                throw PostgresRefusal.unreachable(
                    "the database does not offer TLS (the server workload's sslmode is verify-full; set sslmode: "
                        + "disable only for a database on the same host)")
            }
            // Bytes after `S` and before the handshake could only be injected by a machine in the middle.
            guard buffer.readableBytes == 0, let tls else {
                throw PostgresRefusal.protocolViolation("the database sent data before the TLS handshake")
            }
            phase = .handshaking
            try context.pipeline.syncOperations.addHandler(try tls.handler(), position: .first)
            return
        }
        while case .authenticating = phase, let message = try PostgresWire.next(&buffer) {
            try authenticate(message, context)
        }
        while case .starting = phase, let message = try PostgresWire.next(&buffer) {
            try start(message)
        }
    }

    private func authenticate(_ message: PostgresWire.Message, _ context: ChannelHandlerContext) throws {
        guard case .session(let user, let password, _, _) = purpose else { return }
        switch message.type {
        case UInt8(ascii: "E"):
            throw PostgresRefusal.database(PostgresWire.fields(message))
        case UInt8(ascii: "v"), UInt8(ascii: "N"):
            deliver(Self.encoded(message))  // NegotiateProtocolVersion, a notice: the workload's to see
            return
        case UInt8(ascii: "R"): break
        default: throw PostgresRefusal.protocolViolation("the database sent \(Self.name(message.type)) before login")
        }
        switch try PostgresWire.authentication(message) {
        case .ok:
            phase = .starting
            deliver(Self.encoded(message))
        case .sasl(let mechanisms):
            guard mechanisms.contains("SCRAM-SHA-256") else {
                throw PostgresRefusal.unsupported("SASL \(mechanisms.joined(separator: ", ").prefix(80))")
            }
            let client = SCRAMClient(password: password)
            scram = client
            context.writeAndFlush(
                wrapOutboundOut(PostgresWire.saslInitialResponse(mechanism: "SCRAM-SHA-256", client.clientFirst)),
                promise: nil)
        case .saslContinue(let serverFirst):
            guard var client = scram else { throw PostgresRefusal.protocolViolation("SASL out of order") }
            let final = try client.clientFinal(serverFirst: serverFirst)
            scram = client
            context.writeAndFlush(wrapOutboundOut(PostgresWire.saslResponse(final)), promise: nil)
        case .saslFinal(let serverFinal):
            guard let client = scram else { throw PostgresRefusal.protocolViolation("SASL out of order") }
            do {
                try client.verify(serverFinal: serverFinal)
            } catch {
                throw PostgresRefusal.unreachable(
                    "the database did not prove it knows the password (SCRAM server signature): not the server "
                        + "the credential is for")
            }
        case .md5Password(let salt):
            context.writeAndFlush(
                wrapOutboundOut(PostgresWire.md5Password(user: user, password: password, salt: salt)), promise: nil)
        case .cleartextPassword:
            guard tls != nil else {
                throw PostgresRefusal.unsupported(
                    "the password in clear over plain TCP (use sslmode verify-full, or SCRAM on the server)")
            }
            context.writeAndFlush(wrapOutboundOut(PostgresWire.passwordMessage(password)), promise: nil)
        case .unsupported(let code):
            throw PostgresRefusal.unsupported("authentication method \(code) (the edge logs in with SCRAM or MD5)")
        }
    }

    /// After login: parameters, the backend key, then `ReadyForQuery`, all passed on.
    private func start(_ message: PostgresWire.Message) throws {
        switch message.type {
        case UInt8(ascii: "E"):
            throw PostgresRefusal.database(PostgresWire.fields(message))
        case UInt8(ascii: "K"):
            backend = Array(message.body.readableBytesView)
            deliver(Self.encoded(message))
        case UInt8(ascii: "Z"):
            deliver(Self.encoded(message))
            phase = .done
            let leftover = buffer
            buffer = ByteBuffer()
            finish(.ready(leftover: leftover, backend: backend))
        default:
            deliver(Self.encoded(message))  // ParameterStatus, NoticeResponse
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshaking = phase, case .handshakeCompleted = event as? TLSUserEvent {
            begin(context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .handshaking = phase {
            fail(context, .unreachable("TLS to the database: " + TLSFailure.describe(error)))
        } else {
            fail(context, .unreachable("the connection to the database failed (\(type(of: error)))"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .handshaking = phase {
            fail(context, .unreachable("TLS to the database: " + TLSFailure.describe(nil)))
        } else {
            fail(context, .unreachable("the database closed the connection during login"))
        }
        context.fireChannelInactive()
    }

    /// Gives up on the login after `timeout`.
    func handlerAdded(context: ChannelHandlerContext) {
        let timeout = self.timeout
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(context, .unreachable("no answer from the database within \(timeout.nanoseconds / 1_000_000) ms"))
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ refusal: PostgresRefusal) {
        guard finished != nil else { return }
        phase = .done
        finish(.failed(refusal))
        context.close(promise: nil)
    }

    private func finish(_ outcome: Outcome) {
        let finished = self.finished
        self.finished = nil
        finished?(outcome)
    }

    private static func encoded(_ message: PostgresWire.Message) -> ByteBuffer {
        var body = message.body
        var bytes = ByteBuffer()
        bytes.writeInteger(message.type)
        bytes.writeInteger(Int32(body.readableBytes + 4))
        bytes.writeBuffer(&body)
        return bytes
    }

    private static func name(_ type: UInt8) -> String {
        (0x21...0x7E).contains(type) ? "message '\(Character(UnicodeScalar(type)))'" : "message \(type)"
    }
}
