import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents

extension ProxyHandler {
    func connectUpstream() {
        guard case .forward(let target, _, _) = exchange?.route else { return }
        let generation = self.generation
        // TLS: the credential's (a client certificate) or the server workload's; none for plain HTTP.
        let tls = exchange?.credential?.upstreamTLS ?? exchange?.workload?.tls
        let key = UpstreamPool.Key(host: target.host, port: target.port, tls: tls?.id ?? 0)
        pool.acquire(key, tls: tls).assumeIsolated().whenComplete {
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

    func send(to upstream: UpstreamConnection) {
        guard var exchange, case .forward(_, let authority, let path) = exchange.route else { return }
        phase = .proxying(upstream)
        upstream.handler.delegate = self
        var payloadHash = SigV4Signer.unsignedPayload
        if case .sigV4(let aws) = exchange.credential?.injection {
            payloadHash = SigV4Signer(credentials: aws).payloadHash(exchange.buffered)
        }
        let head = ForwardedHeaders.request(
            exchange.head, authority: authority, path: path, credential: exchange.credential, payloadHash: payloadHash)
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
        if !exchange.requestEnded, buffered.isEmpty, exchange.head.expectsContinue {
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: exchange.head.version, status: .continue))),
                promise: nil)
        }
        if exchange.requestEnded { awaitResponse() }
        readIfWanted()
    }

    /// The request is all sent: its response head is due within the response timeout (a long upload is not cut
    /// short by it).
    func awaitResponse() {
        guard exchange?.responseStarted == false else { return }
        let deadline = NIODeadline.now() + TimeAmount(environment.configuration.upstreamResponseTimeout)
        responseDeadline = deadline
        if responseCheck == nil { checkResponse(at: deadline) }
    }

    /// One timer per connection, re-armed lazily: a request sets its deadline, the timer looks when it fires (no
    /// timer is scheduled and cancelled per request).
    func checkResponse(at deadline: NIODeadline) {
        responseCheck = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            responseCheck = nil
            guard let current = responseDeadline else { return }
            guard current <= .now() else { return checkResponse(at: current) }
            responseDeadline = nil
            guard case .proxying(let upstream) = phase, exchange?.responseStarted == false,
                case .forward(_, let authority, _) = exchange?.route
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
    }

    static func problem(for error: any Error, target: AccessTarget) -> ProxyProblem {
        let authority = "\(target.host):\(target.port)"
        switch (error as? UpstreamUnavailable)?.reason {
        case .timeout:
            return ProxyProblem(
                status: .gatewayTimeout, slug: "upstream-timeout", detail: "connecting to \(authority) timed out")
        case .poolExhausted:
            return ProxyProblem(
                status: .serviceUnavailable, slug: "upstream-pool-exhausted",
                detail: "every connection to \(authority) stayed busy until the connect timeout")
        case .tls:
            return ProxyProblem(
                status: .badGateway, slug: "upstream-tls-failed",
                detail:
                    "TLS with \(authority) failed: \(TLSFailure.describe((error as? UpstreamUnavailable)?.underlying))")
        default:
            return ProxyProblem(
                status: .badGateway, slug: "upstream-unreachable",
                detail: "the upstream \(authority) refused the connection")
        }
    }

}

extension ProxyHandler: UpstreamDelegate {
    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard case .proxying = phase, var exchange else { return }
        switch part {
        case .head(let head):
            responseDeadline = nil
            // A response whose end only the connection's close tells cannot be followed by another on it.
            let framed =
                head.headers.contains(name: "content-length")
                || head.headers[canonicalForm: "transfer-encoding"].contains { $0.equalsIgnoringCase("chunked") }
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
            if !exchange.requestEnded, case .proxying(let upstream) = phase {
                // The upstream answered before the request body ended (e.g. a 401 or 413 to an upload): its
                // connection cannot carry another request; the rest of the workload's body is read and dropped, as
                // nginx does, so the workload sees the answer and its connection stays usable.
                closeUpstream(upstream)
                phase = .answering
                endResponse()
                return readIfWanted()
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
        responseDeadline = nil
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
        if let error, UpstreamUnavailable(connecting: error).reason == .tls {
            // TLS 1.3 refuses a client certificate (or its absence) after the handshake, at the first request.
            return refuse(Self.problem(for: UpstreamUnavailable(connecting: error), target: target))
        }
        refuse(
            ProxyProblem(
                status: .badGateway, slug: "upstream-reset",
                detail: "the upstream \(target.host):\(target.port) closed the connection before answering"))
    }
}
