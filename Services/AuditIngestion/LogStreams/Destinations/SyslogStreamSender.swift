import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS
import Synchronization

/// Syslog over TCP with RFC 6587 octet counting (`LENGTH SP MESSAGE`), or over TLS (RFC 5425, same framing). One
/// connection, kept open and opened again after it breaks. A batch counts as delivered once written to the socket:
/// syslog has no acknowledgements, so records the receiver had not read when it crashed can be lost, as with any
/// syslog forwarder (rsyslog's omfwd too); the SIEM's receiving side should queue to disk.
final class SyslogStreamSender: LogSender {
    let destination: SyslogDestination
    let formatter: LogRecordFormatter
    private let tls: NIOSSLContext?
    private let channel = Mutex<(any Channel)?>(nil)

    /// `clientKey`: the client certificate's private key, decrypted (TLS with a client certificate only).
    init(destination: SyslogDestination, clientKey: String? = nil, formatter: LogRecordFormatter) throws {
        self.destination = destination
        self.formatter = formatter
        guard destination.transport == .tls else {
            tls = nil
            return
        }
        var client: (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey)?
        if let certificate = destination.clientCertificate, let clientKey {
            client = (
                try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)),
                try NIOSSLPrivateKey(bytes: Array(clientKey.utf8), format: .pem)
            )
        }
        do {
            tls = try SyslogDestination.tlsContext(
                ca: try destination.ca.map { try NIOSSLCertificate.fromPEMBytes(Array($0.utf8)) }, client: client)
        } catch {
            // Never the key's bytes: only that it could not be used.
            throw LogDeliveryError(description: "the stream's TLS settings cannot be used: \(type(of: error))")
        }
    }

    func send(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        var buffer = ByteBuffer()
        for record in records {
            let message = formatter.syslogMessage(record)
            buffer.writeString("\(message.count) ")
            buffer.writeBytes(message)
        }
        let channel = try await connected()
        do {
            try await channel.writeAndFlush(buffer).get()
        } catch {
            await close()
            throw LogDeliveryError(description: "write to \(destination.host):\(destination.port) failed: \(error)")
        }
    }

    /// Larger batches than the default: one write of a few MiB, one position update.
    var batchLimit: Int { 5000 }

    func close() async {
        let open = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await open?.close().get()
    }

    private func connected() async throws -> any Channel {
        if let open = channel.withLock({ $0 }), open.isActive { return open }
        await close()
        let tls = self.tls
        let serverName = destination.serverName ?? (Self.isAddress(destination.host) ? nil : destination.host)
        let handshake = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
        let bootstrap = ClientBootstrap(group: handshake.futureResult.eventLoop)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandlers(
                            try NIOSSLClientHandler(context: tls, serverHostname: serverName),
                            TLSHandshakeWatcher(handshake: handshake))
                    }
                }
            }
        let opened: any Channel
        do {
            opened = try await bootstrap.connect(host: destination.host, port: destination.port).get()
        } catch {
            handshake.fail(error)
            throw LogDeliveryError(
                description:
                    "cannot connect to \(destination.transport.rawValue)://\(destination.host):\(destination.port): \(error)"
            )
        }
        if tls == nil {
            handshake.succeed()
        } else {
            do {
                try await handshake.futureResult.get()
                try await Self.awaitAcceptance(of: opened)
            } catch {
                try? await opened.close().get()
                throw error as? LogDeliveryError
                    ?? LogDeliveryError(
                        description: "TLS with \(destination.host):\(destination.port) failed: \(error)")
            }
        }
        channel.withLock { $0 = opened }
        return opened
    }

    /// With TLS 1.3 a receiver that authenticates senders checks the client certificate (or its absence) after the
    /// handshake has completed on this side, and refuses by closing: records written at once would count as delivered
    /// and be lost. A new TLS connection is used only once it has stayed open for `acceptanceWait` after its handshake
    /// (a refusal comes within a round trip); connections are long-lived, so this is paid rarely.
    private static func awaitAcceptance(of channel: any Channel) async throws {
        let settled = channel.eventLoop.makePromise(of: Void.self)
        channel.closeFuture.whenComplete { _ in settled.succeed() }
        let timer = channel.eventLoop.scheduleTask(in: acceptanceWait) { settled.succeed() }
        try await settled.futureResult.get()
        timer.cancel()
        guard channel.isActive else {
            throw LogDeliveryError(
                description:
                    "the receiver closed the connection after the TLS handshake: "
                    + "it refused the client certificate (or its absence)")
        }
    }

    static let acceptanceWait = TimeAmount.milliseconds(300)

    static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}

/// Completes `handshake` when TLS is established, fails it when the connection ends first, and closes the connection
/// on any error (a TLS alert from the receiver).
private final class TLSHandshakeWatcher: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let handshake: EventLoopPromise<Void>

    init(handshake: EventLoopPromise<Void>) { self.handshake = handshake }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case TLSUserEvent.handshakeCompleted = event { handshake.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.fail(ChannelError.eof)
        context.fireChannelInactive()
    }
}
