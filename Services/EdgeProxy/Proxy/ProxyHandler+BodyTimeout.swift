import NIOCore
import NIOHTTP1

/// A request body that stops arriving while the edge reads it ends the exchange after `SIGIL_EDGE_CLIENT_IDLE_TIMEOUT_MS`
/// (nginx's `client_body_timeout`): 408 if nothing was answered yet, else the connection closes; the upstream request
/// is abandoned and its connection not reused. Time the edge spends not reading — the upstream cannot take more, a
/// credential or a connection is on its way — does not count. One timer per connection, re-armed lazily: a body read
/// only sets `bodyMoved`, so a stall ends between one and two timeouts after the last byte.
extension ProxyHandler {
    /// Whether the edge is reading the request's body now.
    var readingBody: Bool {
        guard exchange?.requestEnded == false else { return false }
        switch phase {
        case .proxying(let upstream): return upstream.channel.isWritable
        case .answering: return true
        case .preparing: return exchange?.collecting == true
        case .idle, .tunnelling, .closed: return false
        }
    }

    /// Watches the current request's body (a request with one has begun).
    func watchBody() {
        guard bodyCheck == nil else { return }
        let timeout = TimeAmount(environment.configuration.clientIdleTimeout)
        bodyCheck = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            bodyCheck = nil
            guard let exchange, !exchange.requestEnded, exchange.head.method != .CONNECT else { return }
            defer { bodyMoved = false }
            guard !bodyMoved, readingBody else { return watchBody() }
            bodyStalled(after: timeout)
        }
    }

    private func bodyStalled(after timeout: TimeAmount) {
        environment.counters.bodyTimeouts.increment()
        if case .proxying(let upstream) = phase { closeUpstream(upstream) }
        guard exchange?.responseStarted == false else {
            phase = .closed
            report()
            return context.close(promise: nil)
        }
        exchange?.keepAlive = false
        answer(
            ProxyProblem(
                status: .requestTimeout, slug: "request-body-timeout",
                detail: "no byte of the request body arrived for \(timeout.nanoseconds / 1_000_000) ms"))
    }
}
