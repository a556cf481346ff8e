import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents

/// One workload connection to the proxy: reads each request head, decides its route, obtains the credential (from
/// the cache, or asynchronously while the connection's reads pause), takes an upstream connection from the loop's
/// pool and relays both bodies with backpressure: a side's reads continue only while the other side can write.
/// Every step runs on the connection's event loop; no lock is taken on the way.
final class ProxyHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase {
        /// Between requests (reading the next head).
        case idle
        /// A head is in; the credential or the upstream connection is on its way. Body parts wait in `buffered`.
        case preparing
        /// The request goes to `upstream`; its response comes back.
        case proxying(UpstreamConnection)
        /// The edge answers itself (a problem); the request's body, if any, is read and dropped.
        case answering
        /// `CONNECT`: the tunnel is being opened; the HTTP handlers leave the pipeline once it is.
        case tunnelling
        case closed
    }

    /// The request in progress.
    private struct Exchange {
        let head: HTTPRequestHead
        let arrival: NIODeadline
        var keepAlive: Bool
        var route: ProxyRoute?
        var workload: EdgeServerWorkload?
        var credential: HeldCredential?
        var buffered: [HTTPServerRequestPart] = []
        var requestEnded = false
        var responseStarted = false
        var responseEnded = false
        var upstreamReusable = false
        var retried = false
        var status = 0
        var bytesIn = 0
        var bytesOut = 0
    }

    private let environment: ProxyEnvironment
    private let pool: UpstreamPool
    private let tally: ActivityTally
    /// The connection's handler context, set when the handler joins the pipeline (before any event).
    private var storedContext: ChannelHandlerContext?
    private var context: ChannelHandlerContext { storedContext! }
    private var phase = Phase.idle
    private var exchange: Exchange?
    /// Increments with every exchange, so a credential or connection that arrives late for an ended one is dropped.
    private var generation = 0
    private var idleTimer: Scheduled<Void>?
    private var responseTimer: Scheduled<Void>?

    init(environment: ProxyEnvironment, pool: UpstreamPool, tally: ActivityTally) {
        self.environment = environment
        self.pool = pool
        self.tally = tally
    }

    // MARK: Workload side

    func handlerAdded(context: ChannelHandlerContext) {
        storedContext = context
        if context.channel.isActive { becameIdle() }
    }

    func channelActive(context: ChannelHandlerContext) {
        becameIdle()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (phase, part) {
        case (.idle, .head(let head)):
            begin(head)
        case (.idle, _), (.closed, _), (.tunnelling, _):
            return
        case (.preparing, .body), (.preparing, .end):
            if case .end = part { exchange?.requestEnded = true }
            exchange?.buffered.append(part)
        case (.proxying(let upstream), .body(let bytes)):
            exchange?.bytesIn += bytes.readableBytes
            upstream.channel.write(HTTPClientRequestPart.body(.byteBuffer(bytes)), promise: nil)
        case (.proxying(let upstream), .end(let trailers)):
            exchange?.requestEnded = true
            upstream.channel.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
            finishIfDone()
        case (.answering, .end):
            exchange?.requestEnded = true
            finishIfDone()
        case (.answering, _):
            return
        case (_, .head):
            // The pipelining handler holds the next request until this one is answered.
            return
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .proxying(let upstream) = phase { upstream.channel.flush() }
        readIfWanted()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, case .proxying(let upstream) = phase { upstream.channel.read() }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .proxying(let upstream) = phase {
            // Gone mid-exchange: the upstream request is abandoned and its connection is not reused.
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
        }
        phase = .closed
        idleTimer?.cancel()
        responseTimer?.cancel()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        // A request the parser refuses: answer if nothing was answered yet, then close (the stream is unusable).
        switch phase {
        case .idle, .preparing,
            .answering where exchange?.responseStarted != true:
            let problem: ProxyProblem
            switch parserError {
            case .headerOverflow:
                problem = ProxyProblem(
                    status: .requestHeaderFieldsTooLarge, slug: "headers-too-large",
                    detail:
                        "the request's header block is larger than \(environment.configuration.maxHeaderBytes) bytes")
            case .unexpectedContentLength, .invalidContentLength:
                problem = .badRequest("request-smuggling", "the request's body length is ambiguous (\(parserError))")
            default:
                problem = .badRequest("malformed-request", "the request is not valid HTTP/1.1 (\(parserError))")
            }
            environment.counters.refused.increment()
            if case .preparing = phase { generation += 1 }
            exchange =
                exchange
                ?? Exchange(
                    head: HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"), arrival: .now(), keepAlive: false)
            exchange?.keepAlive = false
            answer(problem)
        default:
            context.close(promise: nil)
        }
    }

    private func becameIdle() {
        phase = .idle
        exchange = nil
        idleTimer?.cancel()
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: TimeAmount(environment.configuration.clientIdleTimeout)
        ) { [weak self] in
            guard let self, case .idle = self.phase else { return }
            self.context.close(promise: nil)
        }
        context.read()
    }

    private func readIfWanted() {
        switch phase {
        case .idle:
            context.read()
        case .proxying(let upstream) where exchange?.requestEnded == false && upstream.channel.isWritable:
            context.read()
        case .answering where exchange?.requestEnded == false:
            context.read()
        default:
            return
        }
    }

    // MARK: Routing and credentials

    private func begin(_ head: HTTPRequestHead) {
        idleTimer?.cancel()
        generation += 1
        phase = .preparing
        exchange = Exchange(head: head, arrival: .now(), keepAlive: head.isKeepAlive)
        let route: ProxyRoute
        switch ProxyRoute.of(head) {
        case .failure(let problem): return refuse(problem)
        case .success(let decided): route = decided
        }
        exchange?.route = route
        switch route {
        case .tunnel(let host, let port):
            if environment.serverWorkloads.serverWorkload(at: AccessTarget(scheme: "https", host: host, port: port))
                != nil
                || environment.serverWorkloads.serverWorkload(at: AccessTarget(scheme: "http", host: host, port: port))
                    != nil
            {
                return refuse(
                    ProxyProblem(
                        status: .notImplemented, slug: "connect-to-server-workload-unsupported",
                        detail:
                            "\(host):\(port) is a server workload; CONNECT would bypass credential injection and HTTPS interception is not supported yet: send plain HTTP through the proxy"
                    ))
            }
            if let problem = unmanagedProblem(host) { return refuse(problem) }
            openTunnel(host: host, port: port)
        case .forward(let target, _, _):
            if environment.isProxyItself(target) {
                return refuse(.badRequest("not-a-proxy-request", "the request is addressed to the proxy itself"))
            }
            guard let workload = environment.serverWorkloads.serverWorkload(at: target) else {
                if let problem = unmanagedProblem(target.host) { return refuse(problem) }
                environment.counters.unmanaged.increment()
                return connectUpstream()
            }
            exchange?.workload = workload
            switch environment.credentials.lookup(workload) {
            case .ready(let credential):
                exchange?.credential = credential
                connectUpstream()
            case .refused(let refusal):
                refuse(ProxyProblem(refusal: refusal))
            case .needed(let key, let token):
                obtainCredential(key, token: token, workload: workload)
            }
        }
    }

    private func unmanagedProblem(_ host: String) -> ProxyProblem? {
        guard environment.configuration.unmanaged == .deny else { return nil }
        return ProxyProblem(
            status: .forbidden, slug: "unmanaged-host-denied",
            detail: "\(host) is not a server workload and this edge forwards only to server workloads")
    }

    private func obtainCredential(_ key: CredentialKey, token: WorkloadEvidence.Token, workload: EdgeServerWorkload) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let generation = self.generation
        let credentials = environment.credentials
        let arrival = exchange!.arrival.uptimeNanoseconds
        let deadline =
            ContinuousClock.now
            - .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds) - Int64(arrival))
            + environment.configuration.timeout
        let eventLoop = context.eventLoop
        Task {
            let result = await credentials.obtain(key, token: token, workload: workload, deadline: deadline)
            eventLoop.execute {
                let handler = loopBound.value
                guard handler.generation == generation, case .preparing = handler.phase else { return }
                switch result {
                case .success(let credential):
                    handler.exchange?.credential = credential
                    handler.connectUpstream()
                case .failure(let refusal):
                    handler.refuse(ProxyProblem(refusal: refusal))
                }
            }
        }
    }

    // MARK: Upstream

    private func connectUpstream() {
        guard case .forward(let target, _, _) = exchange?.route else { return }
        let generation = self.generation
        pool.acquire(UpstreamPool.Key(host: target.host, port: target.port)).assumeIsolated().whenComplete {
            [self] result in
            guard self.generation == generation, case .preparing = phase else {
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection): send(to: connection)
            case .failure(let error): refuse(Self.problem(for: error, target: target))
            }
        }
    }

    private func send(to upstream: UpstreamConnection) {
        guard var exchange, case .forward(_, let authority, let path) = exchange.route else { return }
        phase = .proxying(upstream)
        upstream.handler.delegate = self
        let head = ForwardedHeaders.request(
            exchange.head, authority: authority, path: path, credential: exchange.credential)
        upstream.channel.write(HTTPClientRequestPart.head(head), promise: nil)
        let buffered = exchange.buffered
        exchange.buffered = []
        self.exchange = exchange
        for part in buffered {
            switch part {
            case .body(let bytes):
                self.exchange?.bytesIn += bytes.readableBytes
                upstream.channel.write(HTTPClientRequestPart.body(.byteBuffer(bytes)), promise: nil)
            case .end(let trailers):
                upstream.channel.write(HTTPClientRequestPart.end(trailers), promise: nil)
            case .head:
                continue
            }
        }
        upstream.channel.flush()
        upstream.channel.read()
        if !exchange.requestEnded, buffered.isEmpty,
            exchange.head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        {
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: exchange.head.version, status: .continue))),
                promise: nil)
        }
        let generation = self.generation
        responseTimer = context.eventLoop.assumeIsolated().scheduleTask(
            in: TimeAmount(environment.configuration.upstreamResponseTimeout)
        ) { [self] in
            guard self.generation == generation, case .proxying(let current) = phase, current === upstream,
                self.exchange?.responseStarted == false
            else { return }
            upstream.handler.delegate = nil
            upstream.channel.close(promise: nil)
            refuse(
                ProxyProblem(
                    status: .gatewayTimeout, slug: "upstream-timeout",
                    detail:
                        "the upstream \(authority) did not answer within \(environment.configuration.upstreamResponseTimeout)"
                ))
        }
        readIfWanted()
    }

    private static func problem(for error: any Error, target: AccessTarget) -> ProxyProblem {
        let authority = "\(target.host):\(target.port)"
        switch (error as? UpstreamUnavailable)?.reason {
        case .timeout:
            return ProxyProblem(
                status: .gatewayTimeout, slug: "upstream-timeout", detail: "connecting to \(authority) timed out")
        case .poolExhausted:
            return ProxyProblem(
                status: .serviceUnavailable, slug: "upstream-pool-exhausted",
                detail: "every connection to \(authority) stayed busy until the connect timeout")
        default:
            return ProxyProblem(
                status: .badGateway, slug: "upstream-unreachable",
                detail: "the upstream \(authority) refused the connection")
        }
    }

    // MARK: Answering and finishing

    /// Answers a problem for the current request, then goes on (or closes if the body cannot be skipped).
    private func refuse(_ problem: ProxyProblem) {
        environment.counters.refused.increment()
        answer(problem)
    }

    private func answer(_ problem: ProxyProblem) {
        guard var exchange else { return }
        responseTimer?.cancel()
        phase = .answering
        // A body still to come is not worth reading for a refusal: close after answering.
        if !exchange.requestEnded && (exchange.head.hasBody || exchange.buffered.isEmpty == false) {
            exchange.keepAlive = false
        }
        exchange.buffered = []
        if exchange.head.method == .CONNECT {
            // NIO's encoder drops every body of a response to CONNECT; a refusal's problem is worth showing, so it
            // is written below the encoder, and the connection closes after it.
            exchange.status = Int(problem.status.code)
            self.exchange = exchange
            phase = .closed
            let bytes = problem.serialized(version: exchange.head.version, allocator: context.channel.allocator)
            if let below = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) {
                below.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { [self] _ in
                    context.close(promise: nil)
                }
            } else {
                context.close(promise: nil)
            }
            return
        }
        let (head, body) = problem.response(
            version: exchange.head.version, keepAlive: exchange.keepAlive, allocator: context.channel.allocator)
        exchange.status = Int(head.status.code)
        exchange.responseStarted = true
        exchange.responseEnded = true
        self.exchange = exchange
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        endResponse()
    }

    private func endResponse() {
        guard let exchange else { return }
        let close = !exchange.keepAlive
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if close {
            written.assumeIsolated().whenComplete { [self] _ in context.close(promise: nil) }
            phase = .closed
            report()
            return
        }
        finishIfDone()
    }

    /// Both directions ended: report, return the upstream connection, and wait for the next request.
    private func finishIfDone() {
        guard let exchange, exchange.requestEnded, exchange.responseEnded else { return }
        if case .proxying(let upstream) = phase {
            if exchange.upstreamReusable { pool.release(upstream) } else { closeUpstream(upstream) }
        }
        report()
        if exchange.keepAlive { becameIdle() } else { context.close(promise: nil) }
    }

    private func closeUpstream(_ upstream: UpstreamConnection) {
        upstream.handler.delegate = nil
        upstream.channel.close(promise: nil)
    }

    private func report() {
        guard let exchange, let workload = exchange.workload, exchange.status > 0 else { return }
        let latency = NIODeadline.now().uptimeNanoseconds - exchange.arrival.uptimeNanoseconds
        tally.record(
            workload: workload, credentialRequestID: exchange.credential?.requestID, status: exchange.status,
            bytesIn: exchange.bytesIn, bytesOut: exchange.bytesOut, latencyNanoseconds: latency)
        if workload.reportsEachRequest {
            environment.reportEachRequest(
                workload: workload, requestID: exchange.credential?.requestID, status: exchange.status,
                bytes: exchange.bytesOut, latencyNanoseconds: latency)
        }
    }

    // MARK: Tunnels

    private func openTunnel(host: String, port: Int) {
        phase = .tunnelling
        let generation = self.generation
        ClientBootstrap(group: context.eventLoop)
            .connectTimeout(TimeAmount(environment.configuration.upstreamConnectTimeout))
            .channelOption(.autoRead, value: false)
            .connect(host: host, port: port)
            .assumeIsolated()
            .whenComplete { [self] result in
                guard self.generation == generation, case .tunnelling = phase else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let peer): joinTunnel(peer)
                case .failure(let error):
                    phase = .preparing
                    let target = AccessTarget(scheme: "https", host: host, port: port)
                    refuse(Self.problem(for: UpstreamUnavailable(reason: .refused, underlying: error), target: target))
                }
            }
    }

    private func joinTunnel(_ peer: any Channel) {
        guard let exchange else { return }
        environment.counters.tunnels.increment()
        let head = HTTPResponseHead(
            version: exchange.head.version, status: .custom(code: 200, reasonPhrase: "Connection Established"),
            headers: ["via": ForwardedHeaders.via])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().flatMapThrowing { [self] in
            let (workloadSide, peerSide) = TunnelGlue.pair()
            let pipeline = channel.pipeline.syncOperations
            try pipeline.removeHTTPHandlers()
            try pipeline.addHandler(workloadSide)
            try peer.pipeline.syncOperations.addHandler(peerSide)
            pipeline.removeHandler(self, promise: nil)
            channel.setOption(.autoRead, value: true).whenComplete { _ in }
            peer.setOption(.autoRead, value: true).whenComplete { _ in }
        }.whenFailure { _ in
            peer.close(promise: nil)
            channel.close(promise: nil)
        }
    }
}

// MARK: - Upstream events

extension ProxyHandler: UpstreamDelegate {
    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard case .proxying = phase, var exchange else { return }
        switch part {
        case .head(let head):
            responseTimer?.cancel()
            // A response whose end only the connection's close tells cannot be followed by another on it.
            let framed =
                head.headers.contains(name: "content-length")
                || head.headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
                || head.status == .noContent || head.status == .notModified || exchange.head.method == .HEAD
            exchange.upstreamReusable = head.isKeepAlive && framed
            if exchange.head.version.minor == 0 && !head.headers.contains(name: "content-length") {
                exchange.keepAlive = false  // an HTTP/1.0 workload learns a body's end from the close
            }
            exchange.status = Int(head.status.code)
            exchange.responseStarted = true
            self.exchange = exchange
            let forwarded = ForwardedHeaders.response(
                head, version: exchange.head.version, keepAlive: exchange.keepAlive)
            context.write(wrapOutboundOut(.head(forwarded)), promise: nil)
        case .body(let bytes):
            self.exchange?.bytesOut += bytes.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil)
        case .end:
            self.exchange?.responseEnded = true
            if !exchange.requestEnded {
                // The upstream answered before the request body ended: neither connection can carry another.
                self.exchange?.keepAlive = false
                self.exchange?.upstreamReusable = false
                self.exchange?.requestEnded = true
            }
            endResponse()
        }
    }

    func upstreamReadComplete() {
        guard case .proxying(let upstream) = phase else { return }
        context.flush()
        if context.channel.isWritable { upstream.channel.read() }
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { readIfWanted() }
    }

    func upstreamClosed(error: (any Error)?) {
        guard case .proxying(let upstream) = phase, let exchange else { return }
        responseTimer?.cancel()
        if exchange.responseStarted {
            // Mid-response: the workload sees the connection end, as it would from the upstream itself.
            phase = .closed
            context.close(promise: nil)
            return
        }
        // A reused connection the upstream closed while idle: a request without a body is sent once more, on a
        // new connection (nothing of it reached the upstream's application).
        if upstream.served > 0, !exchange.retried, !exchange.head.hasBody, exchange.requestEnded {
            self.exchange?.retried = true
            self.exchange?.buffered = [.end(nil)]
            phase = .preparing
            return connectUpstream()
        }
        guard case .forward(let target, _, _) = exchange.route else { return }
        refuse(
            ProxyProblem(
                status: .badGateway, slug: "upstream-reset",
                detail: "the upstream \(target.host):\(target.port) closed the connection before answering"))
    }
}

extension ChannelPipeline.SynchronousOperations {
    /// Removes the HTTP/1 server handlers, leaving the raw byte stream (after a `CONNECT`).
    func removeHTTPHandlers() throws {
        removeHandler(try handler(type: HTTPServerPipelineHandler.self), promise: nil)
        removeHandler(try handler(type: NIOHTTPResponseHeadersValidator.self), promise: nil)
        removeHandler(try handler(type: HTTPResponseEncoder.self), promise: nil)
        removeHandler(try handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    }
}
