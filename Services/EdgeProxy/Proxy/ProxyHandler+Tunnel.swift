import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents

extension ProxyHandler {
    func openTunnel(host: String, port: Int) {
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
                    refuse(Self.problem(for: UpstreamUnavailable(connecting: error), target: target))
                }
            }
    }

    func joinTunnel(_ peer: any Channel) {
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

extension ChannelPipeline.SynchronousOperations {
    /// Removes the HTTP/1 server handlers, leaving the raw byte stream (after a `CONNECT`).
    func removeHTTPHandlers() throws {
        removeHandler(try handler(type: HTTPServerPipelineHandler.self), promise: nil)
        removeHandler(try handler(type: HTTPResponseEncoder.self), promise: nil)
        removeHandler(try handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self), promise: nil)
    }
}
