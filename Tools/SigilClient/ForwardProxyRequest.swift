import NIOCore
import NIOHTTP1
import NIOPosix

/// One plain-HTTP request sent through an explicit forward proxy in absolute form (`GET http://host/path`), the way
/// a workload with `HTTP_PROXY` set sends it. (AsyncHTTPClient tunnels through proxies with CONNECT, which the edge
/// does not intercept yet, hence this small client.)
public enum ForwardProxyRequest {
    public struct Response: Sendable {
        public let status: Int
        public let body: String
    }

    public static func get(
        _ url: String, proxyHost: String, proxyPort: Int, headers: [(String, String)] = []
    ) async throws -> Response {
        try await send(.GET, url, proxyHost: proxyHost, proxyPort: proxyPort, headers: headers)
    }

    public static func send(
        _ method: HTTPMethod, _ url: String, body: String? = nil, proxyHost: String, proxyPort: Int,
        headers: [(String, String)] = []
    ) async throws -> Response {
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Response.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
            .connect(host: proxyHost, port: proxyPort)
            .get()
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: url)
        let authority =
            url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(2).first.map(
                String.init) ?? ""
        head.headers.add(name: "Host", value: authority)
        head.headers.add(name: "Connection", value: "close")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body { head.headers.add(name: "Content-Length", value: String(body.utf8.count)) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil) }
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        let scheduled = channel.eventLoop.scheduleTask(in: .seconds(15)) {
            promise.fail(ChannelError.connectTimeout(.seconds(15)))
        }
        defer { scheduled.cancel() }
        let response = try await promise.futureResult.get()
        try? await channel.close()
        return response
    }

    private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPClientResponsePart
        let promise: EventLoopPromise<Response>
        var status = 0
        var body = ByteBuffer()

        init(promise: EventLoopPromise<Response>) { self.promise = promise }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): status = Int(head.status.code)
            case .body(var buffer): body.writeBuffer(&buffer)
            case .end: promise.succeed(Response(status: status, body: String(buffer: body)))
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            promise.fail(error)
            context.close(promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            promise.fail(ChannelError.eof)
        }
    }
}
