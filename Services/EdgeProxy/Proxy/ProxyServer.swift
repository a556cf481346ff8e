import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The forward proxy's listener (default 127.0.0.1:7480) on its own event loops: an HTTP/1.1 server pipeline per
/// workload connection (header block limit, pipelining assistance, response header validation) ending in a
/// `ProxyHandler`, and one upstream pool per loop.
final class ProxyServer: Service, Sendable {
    let environment: ProxyEnvironment
    let group: MultiThreadedEventLoopGroup
    private let pools: [ObjectIdentifier: LoopOwned<UpstreamPool>]
    private let listener = Mutex<(any Channel)?>(nil)

    init(environment: ProxyEnvironment, group: MultiThreadedEventLoopGroup) {
        self.environment = environment
        self.group = group
        let configuration = environment.configuration
        let limits = UpstreamPool.Limits(
            maxConnections: configuration.upstreamMaxConnections,
            idleTimeout: TimeAmount(configuration.upstreamIdleTimeout),
            connectTimeout: TimeAmount(configuration.upstreamConnectTimeout))
        var pools: [ObjectIdentifier: LoopOwned<UpstreamPool>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = LoopOwned(UpstreamPool(eventLoop: loop, limits: limits), eventLoop: loop)
        }
        self.pools = pools
    }

    /// Binds the listener; returns its address (the port is chosen by the system when configured as 0).
    @discardableResult
    func bind() async throws -> SocketAddress {
        let configuration = environment.configuration
        if !configuration.listensOnLoopback {
            environment.logger.warning(
                "the proxy listens beyond loopback: anything that reaches this address can use the workload's credentials",
                metadata: ["host": "\(configuration.proxyHost)"])
        }
        var headerLimits = NIOHTTPDecoderLimitConfiguration()
        headerLimits.maxHeaderListSize = configuration.maxHeaderBytes
        headerLimits.maxHeaderFieldSize = configuration.maxHeaderBytes
        let limits = headerLimits
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            // Up to 1 MiB queued per direction before a side's reads pause: room for fast streaming, bounded memory.
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { [environment, pools] channel in
                channel.eventLoop.makeCompletedFuture {
                    let loop = channel.eventLoop
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        // Outbound header validation off: what the edge sends is what the parser accepted, the
                        // validated authority, and credential headers checked when they arrive (HeldCredential).
                        withPipeliningAssistance: true, withErrorHandling: false, withOutboundHeaderValidation: false,
                        withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
                    try channel.pipeline.syncOperations.addHandler(
                        ProxyHandler(
                            environment: environment, pool: pools[ObjectIdentifier(loop)]!.value,
                            tally: environment.reporter.tally(on: loop)))
                }
            }
            .bind(host: configuration.proxyHost, port: configuration.proxyPort)
            .get()
        listener.withLock { $0 = channel }
        environment.logger.info(
            "proxy listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
        return channel.localAddress!
    }

    func run() async throws {
        if listener.withLock({ $0 }) == nil { try await bind() }
        guard let channel = listener.withLock({ $0 }) else { return }
        await withGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onGracefulShutdown: {
            channel.close(promise: nil)
        }
        await closeIdleUpstreams()
    }

    /// Stops accepting (for tests; the service stops on graceful shutdown).
    func close() async {
        let channel = listener.withLock { $0 }
        try? await channel?.close()
        await closeIdleUpstreams()
    }

    private func closeIdleUpstreams() async {
        for loop in group.makeIterator() {
            guard let pool = pools[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { pool.value.closeIdle() }.get()
        }
    }

    /// The pool of `loop` (call on that loop), for tests.
    func pool(on loop: any EventLoop) -> UpstreamPool { pools[ObjectIdentifier(loop)]!.value }
}
