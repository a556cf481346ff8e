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

    enum Phase {
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
    struct Exchange {
        let head: HTTPRequestHead
        let arrival: NIODeadline
        var keepAlive: Bool
        var route: ProxyRoute?
        var workload: EdgeServerWorkload?
        var credential: HeldCredential?
        var buffered: [HTTPServerRequestPart] = []
        /// Reading the whole body before going upstream, because the credential signs it (SigV4).
        var collecting = false
        var collectedBytes = 0
        var requestEnded = false
        var responseStarted = false
        var responseEnded = false
        var upstreamReusable = false
        var retried = false
        var status = 0
        var bytesIn = 0
        var bytesOut = 0
    }

    let environment: ProxyEnvironment
    let pool: UpstreamPool
    let tally: ActivityTally
    /// The connection's handler context, set when the handler joins the pipeline (before any event).
    var storedContext: ChannelHandlerContext?
    /// The workload's address, as this connection came from it (read once; what source-network conditions judge).
    var sourceAddress: String?
    var context: ChannelHandlerContext { storedContext! }
    var phase = Phase.idle
    var exchange: Exchange?
    /// Increments with every exchange, so a credential or connection that arrives late for an ended one is dropped.
    var generation = 0
    /// Since when the connection waits for a request, and the one timer that closes it after the idle timeout.
    var idleSince: NIODeadline?
    var idleCheck: Scheduled<Void>?
    /// By when the upstream's response head must arrive, and the one timer that enforces it.
    var responseDeadline: NIODeadline?
    var responseCheck: Scheduled<Void>?
    /// Whether the request's body moved since the body timer last looked, and that timer (`watchBody`).
    var bodyMoved = false
    var bodyCheck: Scheduled<Void>?

    init(environment: ProxyEnvironment, pool: UpstreamPool, tally: ActivityTally) {
        self.environment = environment
        self.pool = pool
        self.tally = tally
    }

    // MARK: Workload side

    func handlerAdded(context: ChannelHandlerContext) {
        storedContext = context
        sourceAddress = context.channel.remoteAddress?.ipAddress
        if context.channel.isActive { becameIdle() }
    }

    func channelActive(context: ChannelHandlerContext) {
        sourceAddress = context.channel.remoteAddress?.ipAddress
        becameIdle()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        bodyMoved = true
        switch (phase, part) {
        case (.idle, .head(let head)):
            begin(head)
        case (.idle, _), (.closed, _), (.tunnelling, _):
            return
        case (.preparing, .body(let bytes)):
            exchange?.buffered.append(part)
            if exchange?.collecting == true { collected(bytes.readableBytes) }
        case (.preparing, .end):
            exchange?.requestEnded = true
            exchange?.buffered.append(part)
            if exchange?.collecting == true {
                exchange?.collecting = false
                connectUpstream()
            }
        case (.proxying(let upstream), .body(let bytes)):
            exchange?.bytesIn += bytes.readableBytes
            upstream.channel.write(HTTPClientRequestPart.body(.byteBuffer(bytes)), promise: nil)
        case (.proxying(let upstream), .end(let trailers)):
            exchange?.requestEnded = true
            upstream.channel.writeAndFlush(HTTPClientRequestPart.end(trailers), promise: nil)
            awaitResponse()
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
        idleCheck?.cancel()
        responseCheck?.cancel()
        bodyCheck?.cancel()
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

    func becameIdle() {
        phase = .idle
        exchange = nil
        let now = NIODeadline.now()
        idleSince = now
        if idleCheck == nil { checkIdle(at: now + TimeAmount(environment.configuration.clientIdleTimeout)) }
        context.read()
    }

    /// Closes the connection once it has waited the idle timeout for a request; one timer, re-armed lazily.
    func checkIdle(at deadline: NIODeadline) {
        idleCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            idleCheck = nil
            guard case .idle = phase, let since = idleSince else { return }
            let due = since + TimeAmount(environment.configuration.clientIdleTimeout)
            if due <= .now() { context.close(promise: nil) } else { checkIdle(at: due) }
        }
    }

    func readIfWanted() {
        // Reads resume (after a pause for the upstream, a credential, a connection): the body timer starts over.
        bodyMoved = true
        if case .idle = phase { return context.read() }
        if readingBody { context.read() }
    }

    // MARK: Routing and credentials

    func begin(_ head: HTTPRequestHead) {
        idleSince = nil
        generation += 1
        phase = .preparing
        exchange = Exchange(head: head, arrival: .now(), keepAlive: head.isKeepAlive)
        if head.hasBody { watchBody() }
        let route: ProxyRoute
        switch ProxyRoute.of(head) {
        case .failure(let problem): return refuse(problem)
        case .success(let decided): route = decided
        }
        exchange?.route = route
        switch route {
        case .tunnel(let host, let port):
            if environment.serverWorkloads.manages(AccessTarget(scheme: "https", host: host, port: port))
                || environment.serverWorkloads.manages(AccessTarget(scheme: "http", host: host, port: port))
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
        case .forward(let target, let authority, let pathAndQuery):
            if environment.isProxyItself(target) {
                return refuse(.badRequest("not-a-proxy-request", "the request is addressed to the proxy itself"))
            }
            let path = String(pathAndQuery.prefix { $0 != "?" })
            let method = head.method.rawValue
            let workload: EdgeServerWorkload
            switch matchServerWorkload(target, authority: authority, method: method, path: path) {
            case .serverWorkload(let matched): workload = matched
            case .ambiguousPath: return refuse(.ambiguousPath)
            case .unmanaged:
                if let problem = unmanagedProblem(target.host) { return refuse(problem) }
                if target.scheme == "https" {
                    return refuse(
                        ProxyProblem(
                            status: .notImplemented, slug: "https-upstream-unmanaged",
                            detail:
                                "\(target.host):\(target.port) is not a server workload; the edge originates TLS only for https server workloads (use CONNECT for other HTTPS)"
                        ))
                }
                environment.counters.unmanaged.increment()
                return connectUpstream()
            }
            exchange?.workload = workload
            let request: RequestAttributes
            switch requestAttributes(head, method: method, path: path, workload: workload) {
            case .failure(let problem): return refuse(problem)
            case .success(let attributes): request = attributes
            }
            switch environment.credentials.lookup(workload, request: request) {
            case .ready(let credential):
                exchange?.credential = credential
                proceed()
            case .refused(let refusal):
                refuse(ProxyProblem(refusal: refusal))
            case .needed(let key, let evidence, let request):
                obtainCredential(key, evidence: evidence, workload: workload, request: request)
            }
        }
    }

    /// The server workload of a request: at its target, or — a plain `http://` request no http server workload takes
    /// — an https server workload at the same host (the edge then originates TLS to it; the route follows).
    func matchServerWorkload(
        _ target: AccessTarget, authority: String, method: String, path: String
    ) -> ServerWorkloadIndex.Match {
        let match = environment.serverWorkloads.match(target, method: method, path: path)
        guard match == .unmanaged, environment.serverWorkloads.hasHTTPS,
            let https = ProxyRoute.httpsTarget(of: target, authority: authority)
        else {
            return match
        }
        let upgraded = environment.serverWorkloads.match(https, method: method, path: path)
        if upgraded != .unmanaged, case .forward(_, let authority, let pathAndQuery) = exchange?.route {
            exchange?.route = .forward(target: https, authority: authority, path: pathAndQuery)
        }
        return upgraded == .unmanaged ? match : upgraded
    }

    func unmanagedProblem(_ host: String) -> ProxyProblem? {
        guard environment.configuration.unmanaged == .deny else { return nil }
        return ProxyProblem(
            status: .forbidden, slug: "unmanaged-host-denied",
            detail: "\(host) is not a server workload and this edge forwards only to server workloads")
    }

    // MARK: Answering and finishing

    /// Answers a problem for the current request, then goes on (or closes if the body cannot be skipped).
    func refuse(_ problem: ProxyProblem) {
        environment.counters.refused.increment()
        answer(problem)
    }

    func answer(_ problem: ProxyProblem) {
        guard var exchange else { return }
        responseDeadline = nil
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

    func endResponse() {
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
    func finishIfDone() {
        guard let exchange, exchange.requestEnded, exchange.responseEnded else { return }
        if case .proxying(let upstream) = phase {
            if exchange.upstreamReusable { pool.release(upstream) } else { closeUpstream(upstream) }
        }
        report()
        if exchange.keepAlive { becameIdle() } else { context.close(promise: nil) }
    }

    func closeUpstream(_ upstream: UpstreamConnection) {
        upstream.handler.delegate = nil
        upstream.channel.close(promise: nil)
    }

    func report() {
        guard let exchange, let workload = exchange.workload, exchange.status > 0 else { return }
        let latency = NIODeadline.now().uptimeNanoseconds - exchange.arrival.uptimeNanoseconds
        tally.record(
            workload: workload, credential: exchange.credential, status: exchange.status,
            bytesIn: exchange.bytesIn, bytesOut: exchange.bytesOut, latencyNanoseconds: latency)
        if workload.reportsEachRequest {
            environment.reportEachRequest(
                workload: workload, requestID: exchange.credential?.requestID, status: exchange.status,
                bytes: exchange.bytesOut, latencyNanoseconds: latency)
        }
    }
}
