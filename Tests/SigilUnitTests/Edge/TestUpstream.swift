import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A keep-alive HTTP/1.1 upstream for the edge's tests, on 127.0.0.1 with a system-chosen port.
/// `/key` answers 200 only with the right `x-api-key`; `/echo` answers the request line and headers as JSON;
/// `/upload` streams the body in and answers its length; `/early` answers 401 before reading the body; `/download?bytes=N` streams N bytes out; `/no-content`
/// and `/not-modified` answer 204 and 304; `/reset` closes without answering; `/slow` never answers.
final class TestUpstream: Sendable {
    static let apiKey = "right-key"
    let channel: any Channel
    let connections = NIOLockedValueBox(0)
    var port: Int { channel.localAddress!.port! }

    /// `tls`: serve HTTPS with this context (a server certificate; maybe requiring a client's).
    init(group: any EventLoopGroup, tls: NIOSSLContext? = nil) async throws {
        let connections = self.connections
        channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                connections.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(TestUpstreamHandler())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func close() async { try? await channel.close() }
}

private final class TestUpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private var head: HTTPRequestHead?
    private var received = 0
    private var download: (remaining: Int, chunk: ByteBuffer)?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            received = 0
            if head.uri.hasPrefix("/early") {
                // Answers before reading the body, as a server refusing an upload does.
                send(context, .unauthorized, body: "refused early", request: head)
                self.head = nil
            }
        case .body(let bytes):
            received += bytes.readableBytes
        case .end:
            guard let head else { return }
            respond(to: head, context: context)
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = String(head.uri.split(separator: "?").first ?? "")
        switch path {
        case "/key":
            let right = head.headers["x-api-key"] == [TestUpstream.apiKey]
            send(context, right ? .ok : .unauthorized, body: right ? "ok" : "wrong key", request: head)
        case "/echo":
            let object: [String: Any] = [
                "method": head.method.rawValue, "uri": head.uri,
                "headers": head.headers.map { [$0.name, $0.value] },
            ]
            let json = String(data: try! JSONSerialization.data(withJSONObject: object), encoding: .utf8)!
            send(context, .ok, body: json, request: head)
        case "/upload":
            send(context, .ok, body: String(received), request: head)
        case "/download":
            let total = Int(head.uri.split(separator: "=").last ?? "0") ?? 0
            context.write(
                wrapOutboundOut(
                    .head(HTTPResponseHead(version: head.version, status: .ok, headers: ["content-length": "\(total)"]))
                ),
                promise: nil)
            download = (total, context.channel.allocator.buffer(repeating: 0x61, count: 64 * 1024))
            pump(context)
        case "/no-content":
            send(context, .noContent, body: nil, request: head)
        case "/not-modified":
            send(context, .notModified, body: nil, request: head)
        case "/reset":
            context.close(promise: nil)
        case "/slow":
            return
        default:
            send(context, .notFound, body: "no such path", request: head)
        }
    }

    /// Writes the download while the connection is writable; continues when it becomes writable again.
    private func pump(_ context: ChannelHandlerContext) {
        while var (remaining, chunk) = download, remaining > 0, context.channel.isWritable {
            let size = min(remaining, chunk.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(chunk.readSlice(length: size)!))), promise: nil)
            remaining -= size
            download = (remaining, download!.chunk)
        }
        if let download, download.remaining == 0 {
            self.download = nil
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.flush()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable, download != nil { pump(context) }
    }

    private func send(
        _ context: ChannelHandlerContext, _ status: HTTPResponseStatus, body: String?, request: HTTPRequestHead
    ) {
        var headers = HTTPHeaders()
        if let body { headers.add(name: "content-length", value: String(body.utf8.count)) }
        headers.add(name: "x-upstream", value: "test")
        context.write(
            wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil)
        if let body, request.method != .HEAD {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if !request.isKeepAlive { context.close(promise: nil) }
    }
}
