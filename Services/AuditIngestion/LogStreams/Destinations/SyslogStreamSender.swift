import NIOCore
import NIOPosix
import NIOSSL
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

    init(destination: SyslogDestination, formatter: LogRecordFormatter) throws {
        self.destination = destination
        self.formatter = formatter
        if destination.transport == .tls {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let ca = destination.ca {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            tls = try NIOSSLContext(configuration: configuration)
        } else {
            tls = nil
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
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: tls, serverHostname: serverName))
                    }
                }
            }
        do {
            let opened = try await bootstrap.connect(host: destination.host, port: destination.port).get()
            channel.withLock { $0 = opened }
            return opened
        } catch {
            throw LogDeliveryError(
                description:
                    "cannot connect to \(destination.transport.rawValue)://\(destination.host):\(destination.port): \(error)"
            )
        }
    }

    static func isAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
