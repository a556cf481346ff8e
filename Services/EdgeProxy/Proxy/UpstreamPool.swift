import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOTLS

/// Why no upstream connection could be had.
struct UpstreamUnavailable: Error {
    enum Reason { case refused, timeout, poolExhausted, tls }
    let reason: Reason
    let underlying: (any Error)?

    init(reason: Reason, underlying: (any Error)?) {
        self.reason = reason
        self.underlying = underlying
    }

    /// A failed connect: timed out, refused (reset, unreachable, no such host), or a TLS handshake that failed.
    init(connecting error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            self.init(reason: .tls, underlying: error)
            return
        }
        let timedOut =
            (error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
        self.init(reason: timedOut ? .timeout : .refused, underlying: error)
    }
}

/// The upstream connections of one event loop, per upstream host, port and TLS (none, a server workload's, a client
/// certificate's): reused across workload connections,
/// at most `maxConnections` open per upstream (further requests wait their turn until the connect timeout), an idle
/// one closed after `idleTimeout`. Used only on its event loop, so it takes no lock.
final class UpstreamPool {
    struct Key: Hashable {
        let host: String
        let port: Int
        /// `UpstreamTLS.id`, 0 for plain HTTP.
        var tls: UInt64 = 0
    }

    struct Limits {
        var maxConnections: Int
        var idleTimeout: TimeAmount
        var connectTimeout: TimeAmount
    }

    private struct Waiter {
        let promise: EventLoopPromise<UpstreamConnection>
        let timeout: Scheduled<Void>
        let tls: UpstreamTLS?
    }

    let eventLoop: any EventLoop
    private let limits: Limits
    private var idle: [Key: [UpstreamConnection]] = [:]
    private var open: [Key: Int] = [:]
    private var waiters: [Key: CircularBuffer<Waiter>] = [:]

    init(eventLoop: any EventLoop, limits: Limits) {
        self.eventLoop = eventLoop
        self.limits = limits
    }

    /// Open connections to `key` (busy and idle), for tests and status.
    func openConnections(to key: Key) -> Int { open[key] ?? 0 }
    func idleConnections(to key: Key) -> Int { idle[key]?.count ?? 0 }

    /// An idle connection if there is one, else a new one within the limit, else the next one released.
    func acquire(_ key: Key, tls: UpstreamTLS? = nil) -> EventLoopFuture<UpstreamConnection> {
        eventLoop.assertInEventLoop()
        while let connection = idle[key]?.popLast() {
            guard connection.channel.isActive else { continue }
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            return eventLoop.makeSucceededFuture(connection)
        }
        if open[key, default: 0] < limits.maxConnections {
            return connect(key, tls: tls)
        }
        let promise = eventLoop.makePromise(of: UpstreamConnection.self)
        let timeout = eventLoop.assumeIsolated().scheduleTask(in: limits.connectTimeout) { [self] in
            guard var queue = waiters[key],
                let index = queue.firstIndex(where: { $0.promise.futureResult === promise.futureResult })
            else {
                return
            }
            queue.remove(at: index)
            waiters[key] = queue
            promise.fail(UpstreamUnavailable(reason: .poolExhausted, underlying: nil))
        }
        waiters[key, default: []].append(Waiter(promise: promise, timeout: timeout, tls: tls))
        return promise.futureResult
    }

    /// Takes back a connection whose exchange ended cleanly: handed to a waiting request or kept idle.
    func release(_ connection: UpstreamConnection) {
        eventLoop.assertInEventLoop()
        connection.handler.delegate = nil
        guard connection.channel.isActive else { return }
        connection.served += 1
        if let waiter = waiters[connection.key]?.popFirst() {
            waiter.timeout.cancel()
            waiter.promise.succeed(connection)
            return
        }
        idle[connection.key, default: []].append(connection)
        connection.idleTimer = eventLoop.assumeIsolated().scheduleTask(in: limits.idleTimeout) {
            connection.channel.close(promise: nil)
        }
        // A read outstanding while idle, so an upstream that closes the connection is noticed at once.
        connection.channel.read()
    }

    private func connect(_ key: Key, tls: UpstreamTLS?) -> EventLoopFuture<UpstreamConnection> {
        open[key, default: 0] += 1
        let connectTimeout = limits.connectTimeout
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            // Reads flow during a TLS handshake; the handshake's end turns them to on demand.
            .channelOption(.autoRead, value: tls != nil)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(try tls.handler())
                        try channel.pipeline.syncOperations.addHandler(
                            TLSHandshakeWatcher(promise: channel.eventLoop.makePromise()))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: key.host, port: key.port)
            .flatMap { channel -> EventLoopFuture<any Channel> in
                guard tls != nil,
                    let watcher = try? channel.pipeline.syncOperations.handler(type: TLSHandshakeWatcher.self)
                else { return channel.eventLoop.makeSucceededFuture(channel) }
                let timeout = channel.eventLoop.scheduleTask(in: connectTimeout) {
                    watcher.promise.fail(ChannelError.connectTimeout(connectTimeout))
                }
                return watcher.promise.futureResult.map { _ in
                    timeout.cancel()
                    return channel
                }.flatMapErrorThrowing { error in
                    timeout.cancel()
                    channel.close(promise: nil)
                    throw error
                }
            }
        return connected.assumeIsolated().flatMapThrowing { [self] channel in
            let handler = try channel.pipeline.syncOperations.handler(type: UpstreamHandler.self)
            let connection = UpstreamConnection(key: key, channel: channel, handler: handler)
            channel.closeFuture.assumeIsolated().whenComplete { [self] _ in closed(connection) }
            return connection
        }.flatMapErrorThrowing { [self] error in
            open[key, default: 1] -= 1
            serveNextWaiter(key)
            throw UpstreamUnavailable(connecting: error)
        }.nonisolated()
    }

    private func closed(_ connection: UpstreamConnection) {
        connection.idleTimer?.cancel()
        open[connection.key, default: 1] -= 1
        idle[connection.key]?.removeAll { $0 === connection }
        serveNextWaiter(connection.key)
    }

    /// A connection slot became free: open one for the request that waited longest.
    private func serveNextWaiter(_ key: Key) {
        guard open[key, default: 0] < limits.maxConnections, let waiter = waiters[key]?.popFirst() else { return }
        waiter.timeout.cancel()
        connect(key, tls: waiter.tls).cascade(to: waiter.promise)
    }

    /// Closes every idle connection (shutdown).
    func closeIdle() {
        for connections in idle.values { for connection in connections { connection.channel.close(promise: nil) } }
        idle.removeAll()
    }
}

/// One connection to an upstream, owned by the pool when idle and by one exchange while busy. Touched only on its
/// channel's event loop (the pool's), which is what makes the unchecked `Sendable` (needed to complete futures) hold.
final class UpstreamConnection: @unchecked Sendable {
    let key: UpstreamPool.Key
    let channel: any Channel
    let handler: UpstreamHandler
    var idleTimer: Scheduled<Void>?
    /// Exchanges completed on this connection (a reused connection may have been closed by the upstream meanwhile).
    var served = 0

    init(key: UpstreamPool.Key, channel: any Channel, handler: UpstreamHandler) {
        self.key = key
        self.channel = channel
        self.handler = handler
    }
}

/// Completes when the upstream's TLS handshake does (then reads go on demand, as on a plain connection), or fails with
/// its error: a certificate that does not verify is a refused connection, told as such, not a reset mid-request.
final class TLSHandshakeWatcher: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            context.channel.setOption(.autoRead, value: false).whenComplete { [promise] _ in promise.succeed() }
            context.pipeline.syncOperations.removeHandler(self, promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}

/// What an upstream connection tells the exchange using it.
protocol UpstreamDelegate: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(isWritable: Bool)
    func upstreamClosed(error: (any Error)?)
}

/// The last handler of an upstream connection: passes response parts to the exchange using the connection. An idle
/// connection that receives anything is closed (an upstream must not speak unasked).
final class UpstreamHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    weak var delegate: (any UpstreamDelegate)?
    private var failure: (any Error)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let delegate else {
            context.close(promise: nil)
            return
        }
        delegate.upstreamRead(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failure = error
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let delegate = self.delegate
        self.delegate = nil
        delegate?.upstreamClosed(error: failure)
        context.fireChannelInactive()
    }
}
