import Logging
import SigilCrypto
import SigilService

/// Delivers formatted records to one destination. `send` returns once the destination has them (as far as its
/// protocol can tell) and throws otherwise; the caller then sends the same records again later.
protocol LogSender: Sendable {
    func send(_ records: [AuditRecord]) async throws
    func close() async
    /// Records are held until this much time has passed since the last send (or `batchLimit` are waiting): one S3
    /// object per window. Nil: sent as soon as they are committed.
    var window: Duration? { get }
    /// Records per send at most.
    var batchLimit: Int { get }
}

extension LogSender {
    var window: Duration? { nil }
    var batchLimit: Int { 1000 }
}

/// Why a delivery failed, in words that are safe to show (never a token, never record contents).
struct LogDeliveryError: Error, CustomStringConvertible {
    let description: String
}

/// What a sender may need besides its destination: the log directory, the key to the stream's secret.
struct LogSenderEnvironment: Sendable {
    var fileDirectory: String?
    var secrets: LogStreamSecrets?
    var logger = Logger(label: "sigil.audit.log-streams")
}

extension Resource where Spec == LogStreamSpec {
    func sender(formatter: LogRecordFormatter, environment: LogSenderEnvironment) throws -> any LogSender {
        func secret(_ value: EncryptedValue?, _ field: String) throws -> String {
            guard let value, let secrets = environment.secrets else {
                throw LogDeliveryError(description: "no SIGIL_AUDIT_KEK to decrypt this stream's \(field) with")
            }
            return try secrets.decrypt(value, tenant: metadata.tenant, stream: name, field: field)
        }
        switch spec.destination {
        case .syslog(let syslog):
            return syslog.transport == .udp
                ? try SyslogUDPSender(destination: syslog, formatter: formatter)
                : try SyslogStreamSender(
                    destination: syslog,
                    clientKey: syslog.clientCertificate == nil
                        ? nil : try secret(syslog.clientKeyEncrypted, "clientKey"),
                    formatter: formatter)
        case .splunkHEC(let hec):
            return try SplunkHECSender(
                destination: hec, token: try secret(hec.tokenEncrypted, "token"), formatter: formatter)
        case .webhook(let webhook):
            return try WebhookSender(
                destination: webhook, secret: try secret(webhook.secretEncrypted, "secret"), formatter: formatter)
        case .kafka(let kafka):
            return try KafkaLogSender(
                destination: kafka,
                password: kafka.securityProtocol == .saslSSL ? try secret(kafka.passwordEncrypted, "password") : nil,
                formatter: formatter, logger: environment.logger)
        case .s3(let s3):
            return try S3Sender(
                destination: s3, secretAccessKey: try secret(s3.secretAccessKeyEncrypted, "secretAccessKey"),
                formatter: formatter, tenant: metadata.tenant)
        case .file(let file):
            return try LogFileSender(
                path: try file.resolved(in: environment.fileDirectory), destination: file, formatter: formatter)
        }
    }
}
