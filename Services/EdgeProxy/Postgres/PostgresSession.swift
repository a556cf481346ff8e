import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import NIOSSL
import SigilEvents

/// One workload connection to a `postgres` server workload's listener. It reads the startup message (answering
/// `SSLRequest` with `S` and TLS when the edge has a certificate for its listeners, else `N`; `GSSENCRequest` with
/// `N`; forwarding a known `CancelRequest`), obtains the credential as an HTTP
/// request would (policy decides on method `CONNECT` and path `/<database>`), logs in upstream with it
/// (`PostgresUpstreamLogin`), passes the workload what the database says from `AuthenticationOk` to `ReadyForQuery`,
/// then joins the two connections into a byte relay (`TunnelGlue`: backpressure both ways, no per-message parsing).
/// Anything refused ends with an `ErrorResponse` the workload's driver shows.
final class PostgresSession: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case startup, authorizing, loggingIn, relaying, closed
    }

    private let workload: EdgeServerWorkload
    private let environment: PostgresEnvironment
    private var phase = Phase.startup
    private var buffer = ByteBuffer()
    /// A credential the database rejected is dropped and a new one asked for, once per connection (a revoked lease
    /// whose role is gone: the workload gets a new lease, not an error).
    private var askedAgain = false
    /// `SSLRequest`s and `GSSENCRequest`s answered: one of each at most, as PostgreSQL allows.
    private var negotiations = 0
    /// The workload's side is TLS (the listener has the edge's certificate and the workload asked for it).
    private var encrypted = false
    private let channel: any Channel

    init(workload: EdgeServerWorkload, environment: PostgresEnvironment, channel: any Channel) {
        self.channel = channel
        self.workload = workload
        self.environment = environment
    }

    /// A workload that has not sent its startup message within `SIGIL_EDGE_CLIENT_IDLE_TIMEOUT_MS` is disconnected
    /// (PostgreSQL's `authentication_timeout` does the same).
    func handlerAdded(context: ChannelHandlerContext) {
        let timeout = TimeAmount(environment.configuration.clientIdleTimeout)
        context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            guard case .startup = phase else { return }
            refuse(.protocolViolation("no startup message within \(timeout.nanoseconds / 1_000_000) ms"))
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
        // In the startup phase, one message at a time (an SSLRequest, then the startup); later, held for the relay.
        while case .startup = phase, readStartup(context) {}
    }

    /// Takes in the next first message; false when it has not all arrived.
    private func readStartup(_ context: ChannelHandlerContext) -> Bool {
        do {
            guard let first = try PostgresStartup.next(&buffer) else { return false }
            switch first {
            case .sslRequest, .gssEncryptionRequest:
                negotiations += 1
                guard negotiations <= 2 else {
                    refuse(.protocolViolation("the workload asked for encryption more than twice"))
                    return false
                }
                if case .sslRequest = first, let tls = environment.listenerTLS {
                    return startTLS(context, tls)
                }
                // Plain (no certificate, or GSSAPI, which the edge does not speak): the driver carries on without, or
                // stops if it insists.
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "N")), promise: nil)
            case .cancel(let key):
                phase = .closed
                forwardCancel(key)
            case .startup(let version, let parameters):
                guard encrypted || environment.listenerTLS == nil else {
                    refuse(
                        .refused("this edge's database listeners require TLS: connect with sslmode=require or stronger")
                    )
                    return false
                }
                phase = .authorizing
                channel.setOption(.autoRead, value: false).whenComplete { _ in }
                authorize(version: version, parameters: parameters)
            }
            return true
        } catch {
            refuse(.protocolViolation("the workload sent " + error.detail))
            return false
        }
    }

    /// Answers `S` and puts TLS in front of this handler: what follows is the handshake, then the startup over TLS.
    /// Bytes sent after the `SSLRequest`, before the answer, are refused: they would be taken as if they had come
    /// over TLS (PostgreSQL's CVE-2021-23214).
    private func startTLS(_ context: ChannelHandlerContext, _ tls: PostgresListenerTLS) -> Bool {
        guard !encrypted else {
            refuse(.protocolViolation("the workload sent an SSLRequest over TLS"))
            return false
        }
        guard buffer.readableBytes == 0 else {
            refuse(.protocolViolation("the workload sent bytes after its SSLRequest, before the TLS handshake"))
            return false
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "S")), promise: nil)
        do {
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context), position: .first)
        } catch {
            refuse(.protocolViolation("TLS could not start"))
            return false
        }
        encrypted = true
        return true
    }

    /// Policy's view of the connection: method `CONNECT`, path `/<database>` (the user name when none is given, as
    /// PostgreSQL defaults it), the workload's address.
    private func authorize(version: Int32, parameters: [(String, String)]) {
        let database =
            parameters.first { $0.0 == "database" }?.1 ?? parameters.first { $0.0 == "user" }?.1 ?? ""
        let request = RequestAttributes(
            method: "CONNECT", path: "/" + database, source: channel.remoteAddress?.ipAddress)
        let credentials = environment.credentials
        switch credentials.lookup(workload, request: request) {
        case .ready(let held):
            logIn(held, version: version, parameters: parameters, request: request)
        case .refused(let refusal):
            refuse(PostgresRefusal(refusal))
        case .needed(let key, let evidence, let request):
            let loopBound = NIOLoopBound(self, eventLoop: channel.eventLoop)
            let deadline = ContinuousClock.now + environment.configuration.timeout
            let workload = self.workload
            let eventLoop = channel.eventLoop
            Task {
                let result = await credentials.obtain(
                    key, evidence: evidence, workload: workload, request: request, deadline: deadline)
                eventLoop.execute {
                    let session = loopBound.value
                    guard case .authorizing = session.phase else { return }
                    switch result {
                    case .success(let held):
                        session.logIn(held, version: version, parameters: parameters, request: request)
                    case .failure(let refusal): session.refuse(PostgresRefusal(refusal))
                    }
                }
            }
        }
    }

    private func logIn(
        _ held: HeldCredential, version: Int32, parameters: [(String, String)], request: RequestAttributes
    ) {
        guard case .postgres(let user, let password, let leased) = held.injection else {
            return refuse(.refused("the credential for \(workload.name) is not a PostgreSQL login"))
        }
        // A lease's role is made for one database: the workload names it, or is sent there.
        if let leased, let named = parameters.first(where: { $0.0 == "database" })?.1, named != leased {
            return refuse(
                .refused("the lease for \(workload.name) is for database \(leased): connect with dbname=\(leased)"))
        }
        let forwarded =
            leased.map { leased in parameters.filter { $0.0 != "database" } + [("database", leased)] }
            ?? parameters
        phase = .loggingIn
        let loopBound = NIOLoopBound(self, eventLoop: channel.eventLoop)
        let workload = self.workload
        let timeout = TimeAmount(environment.configuration.upstreamConnectTimeout)
        ClientBootstrap(group: channel.eventLoop)
            .connectTimeout(timeout)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let login = PostgresUpstreamLogin(
                        .session(user: user, password: password, version: version, parameters: forwarded),
                        tls: workload.tls, timeout: timeout,
                        deliver: { loopBound.value.channel.write($0, promise: nil) },
                        finished: { outcome in
                            let session = loopBound.value
                            switch outcome {
                            case .ready(let leftover, let backend):
                                session.relay(
                                    to: channel, leftover: leftover, backend: backend, request: request,
                                    lease: held.leaseID)
                            case .failed(let refusal):
                                if refusal.rejectsCredential, let key = session.key(for: request) {
                                    session.environment.credentials.cache.remove(key)
                                    if !session.askedAgain {
                                        session.askedAgain = true
                                        session.phase = .authorizing
                                        return session.authorize(version: version, parameters: parameters)
                                    }
                                }
                                session.refuse(refusal)
                            }
                        })
                    try channel.pipeline.syncOperations.addHandler(login)
                }
            }
            .connect(host: workload.target.host, port: workload.target.port)
            .whenFailure { error in
                loopBound.value.refuse(.unreachable("\(workload.target.host):\(workload.target.port): \(error)"))
            }
    }

    /// Logged in: the workload has what the database said up to `ReadyForQuery`; from here bytes go as they are.
    private func relay(
        to upstream: any Channel, leftover: ByteBuffer, backend: [UInt8]?, request: RequestAttributes, lease: String?
    ) {
        guard case .loggingIn = phase, channel.isActive else {
            upstream.close(promise: nil)
            return
        }
        phase = .relaying
        channel.flush()
        if leftover.readableBytes > 0 { channel.writeAndFlush(leftover, promise: nil) }
        let sessions = environment.sessions
        let key = self.key(for: request)
        let channel = self.channel
        if let key {
            sessions.opened(backend: backend, at: workload, key: key, request: request, lease: lease, channel: channel)
        }
        environment.counters.sessions.increment()
        channel.closeFuture.whenComplete { _ in
            if let key { sessions.closed(backend: backend, key: key, lease: lease, channel: channel) }
        }
        let (workloadSide, databaseSide) = TunnelGlue.pair()
        let pending = buffer
        buffer = ByteBuffer()
        do {
            try upstream.pipeline.syncOperations.addHandler(databaseSide)
            try upstream.pipeline.syncOperations.removeHandler(
                upstream.pipeline.syncOperations.handler(type: PostgresUpstreamLogin.self))
            try channel.pipeline.syncOperations.addHandler(workloadSide)
        } catch {
            upstream.close(promise: nil)
            return refuse(.protocolViolation("the relay could not start"))
        }
        if pending.readableBytes > 0 { upstream.writeAndFlush(pending, promise: nil) }
        channel.pipeline.syncOperations.removeHandler(self, promise: nil)
        channel.setOption(.autoRead, value: true).whenComplete { _ in }
    }

    /// The credential key this session's lookups use (evidence as now).
    private func key(for request: RequestAttributes) -> CredentialKey? {
        guard case .success(let evidence) = environment.credentials.evidence.current else { return nil }
        let selection =
            environment.credentials.inputs.inputs(for: workload.name).map { RequestSelection(request, inputs: $0) }
            ?? .none
        return CredentialKey(serverWorkload: workload.name, evidenceDigest: evidence.digest, selection: selection)
    }

    /// A `CancelRequest` for a backend this edge relays goes to that backend's database; any other is dropped (the
    /// workload learns nothing either way, as with PostgreSQL itself). The connection closes.
    private func forwardCancel(_ key: [UInt8]) {
        channel.close(promise: nil)
        guard let target = environment.sessions.backend(key) else {
            environment.counters.unknownCancels.increment()
            environment.logger.notice("cancel request for a backend this edge does not relay, dropped")
            return
        }
        environment.logger.info("cancel request forwarded", metadata: ["server.workload": "\(target.name)"])
        ClientBootstrap(group: channel.eventLoop)
            .connectTimeout(TimeAmount(environment.configuration.upstreamConnectTimeout))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        PostgresUpstreamLogin(
                            .cancel(key: key), tls: target.tls, timeout: .seconds(5), deliver: { _ in },
                            finished: { _ in }))
                }
            }
            .connect(host: target.target.host, port: target.target.port)
            .whenSuccess { channel in
                channel.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
            }
    }

    private func refuse(_ refusal: PostgresRefusal) {
        guard channel.isActive else { return }
        phase = .closed
        environment.counters.refused.increment()
        environment.logger.info(
            "database connection refused",
            metadata: ["server.workload": "\(workload.name)", "code": "\(refusal.code)"])
        channel.writeAndFlush(refusal.errorResponse).whenComplete { [channel] _ in channel.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// What every PostgreSQL listener of an edge shares.
struct PostgresEnvironment: Sendable {
    struct Counters: Sendable {
        let sessions = Counter(label: "sigil.edge.database.sessions")
        let refused = Counter(label: "sigil.edge.database.refused")
        let unknownCancels = Counter(label: "sigil.edge.database.cancels", dimensions: [("outcome", "unknown")])
    }

    let configuration: EdgeConfiguration
    let credentials: CredentialBroker
    let sessions: PostgresSessions
    let logger: Logger
    /// The edge's certificate for the workload's side, if configured.
    var listenerTLS: PostgresListenerTLS? = nil
    /// Asks for a lease to end (`LeaseReleased`): asking again for the sessions under it was refused.
    var releaseLease: @Sendable (_ lease: String, _ refusal: EdgeRefusal) -> Void = { _, _ in }
    let counters = Counters()
}
