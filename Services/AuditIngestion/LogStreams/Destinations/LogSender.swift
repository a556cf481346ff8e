import SigilService

/// Delivers formatted records to one destination. `send` returns once the destination has them (as far as its
/// protocol can tell) and throws otherwise; the caller then sends the same records again later.
protocol LogSender: Sendable {
    func send(_ records: [AuditRecord]) async throws
    func close() async
}

/// Why a delivery failed, in words that are safe to show (never a token, never record contents).
struct LogDeliveryError: Error, CustomStringConvertible {
    let description: String
}

extension LogDestination {
    func sender(formatter: LogRecordFormatter, fileDirectory: String?) throws -> any LogSender {
        switch self {
        case .syslog(let syslog):
            syslog.transport == .udp
                ? try SyslogUDPSender(destination: syslog, formatter: formatter)
                : try SyslogStreamSender(destination: syslog, formatter: formatter)
        case .file(let file):
            try LogFileSender(path: try file.resolved(in: fileDirectory), destination: file, formatter: formatter)
        }
    }
}
