import NIOCore
import NIOPosix
import Synchronization

/// Syslog over UDP (RFC 5426): one datagram per message, no delivery guarantee (the protocol has none); messages
/// over 64,000 bytes are cut there.
final class SyslogUDPSender: LogSender {
    static let maximumDatagram = 64_000
    let destination: SyslogDestination
    let formatter: LogRecordFormatter
    private let channel = Mutex<(any Channel)?>(nil)

    init(destination: SyslogDestination, formatter: LogRecordFormatter) throws {
        self.destination = destination
        self.formatter = formatter
    }

    func send(_ records: [AuditRecord]) async throws {
        let channel = try await opened()
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(destination.host, port: destination.port)
        } catch {
            throw LogDeliveryError(description: "cannot resolve \(destination.host): \(error)")
        }
        do {
            for (index, record) in records.enumerated() {
                let message = formatter.syslogMessage(record).prefix(Self.maximumDatagram)
                let datagram = AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: message))
                if index == records.count - 1 {
                    try await channel.writeAndFlush(datagram).get()
                } else {
                    channel.write(datagram, promise: nil)
                }
            }
        } catch {
            await close()
            throw LogDeliveryError(
                description: "send to udp://\(destination.host):\(destination.port) failed: \(error)")
        }
    }

    func close() async {
        let open = channel.withLock { channel in
            defer { channel = nil }
            return channel
        }
        try? await open?.close().get()
    }

    private func opened() async throws -> any Channel {
        if let open = channel.withLock({ $0 }), open.isActive { return open }
        let opened = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: destination.host.contains(":") ? "::" : "0.0.0.0", port: 0).get()
        channel.withLock { $0 = opened }
        return opened
    }
}
