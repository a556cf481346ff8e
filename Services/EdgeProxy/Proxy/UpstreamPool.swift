import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Why no upstream connection could be had.
struct UpstreamUnavailable: Error {
    enum Reason { case refused, timeout, poolExhausted }
    let reason: Reason
    let underlying: (any Error)?

    init(reason: Reason, underlying: (any Error)?) {
        self.reason = reason
        self.underlying = underlying
    }

    /// A failed connect: timed out, or refused (reset, unreachable, no such host).
    init(connecting error: any Error) {
        let timedOut =
            (error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
        self.init(reason: timedOut ? .timeout : .refused, underlying: error)
    }
}

/// The upstream connections of one event loop, per upstream host and port: reused across workload connections,
/// at most `maxConnections` open per upstream (further requests wait their turn until the connect timeout), an idle
/// one closed after `idleTimeout`. Used only on its event loop, so it takes no lock.
final class UpstreamPool {
    struct Key: Hashable {
        let host: String
        let port: Int
    }

    struct Limits {
        var maxConnections: Int
        var idleTimeout: TimeAmount
        var connectTimeout: TimeAmount
    }

    private struct Waiter {
        let promise: EventLoopPromise<UpstreamConnection>
        let timeout: Scheduled<Void>
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
    func acquire(_ key: Key) -> EventLoopFuture<UpstreamConnection> {
        eventLoop.assertInEventLoop()
        while let connection = idle[key]?.popLast() {
            guard connection.channel.isActive else { continue }
            connection.idleTimer?.cancel()
            connection.idleTimer = nil
            return eventLoop.makeSucceededFuture(connection)
        }
        if open[key, default: 0] < limits.maxConnections {
            return connect(key)
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
        waiters[key, default: []].append(Waiter(promise: promise, timeout: timeout))
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

    private func connect(_ key: Key) -> EventLoopFuture<UpstreamConnection> {
        open[key, default: 0] += 1
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(limits.connectTimeout)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelOption(.autoRead, value: false)
            .channelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(host: key.host, port: key.port)
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
        connect(key).cascade(to: waiter.promise)
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
