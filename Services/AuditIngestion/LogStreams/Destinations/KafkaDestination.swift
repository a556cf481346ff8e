import Foundation
import Logging
import SigilCrypto
import SigilKafka
import SigilService

/// A topic on the user's own Kafka cluster (not Sigil's bus): one record per audit record, keyed by its chain, the
/// formatted record as the value, acknowledged by the cluster (`acks=all`, idempotent) before a batch counts.
struct KafkaDestination: Codable, Sendable, Equatable {
    static let type = "kafka"
    enum SecurityProtocol: String, Codable, Sendable, CaseIterable {
        case plaintext, ssl
        case saslSSL = "sasl_ssl"
    }

    var brokers: String
    var topic: String
    var securityProtocol: SecurityProtocol
    var saslMechanism: String?
    var username: String?
    var password: String?
    var passwordEncrypted: EncryptedValue?
    var ca: String?

    static let schema = SpecSchema.ObjectSchema(
        "A topic on an external Kafka cluster.",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "brokers",
                .string(
                    maxLength: 1024,
                    pattern: (
                        regex: "^[A-Za-z0-9.:\\[\\]-]+(,[A-Za-z0-9.:\\[\\]-]+)*$", meaning: "host:port[,host:port...]"
                    )), required: true, "Bootstrap servers."),
            .init(
                "topic",
                .string(maxLength: 249, pattern: (regex: "^[A-Za-z0-9._-]+$", meaning: "a Kafka topic name")),
                required: true, "The topic (it must exist)."),
            .init(
                "securityProtocol", .string(choices: SecurityProtocol.allCases.map(\.rawValue)), default: "ssl",
                "plaintext (only to this host), ssl or sasl_ssl."),
            .init(
                "saslMechanism", .string(choices: ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"]),
                "With sasl_ssl (default SCRAM-SHA-512)."),
            .init("username", .string(maxLength: 256), "With sasl_ssl."),
            .init(
                "password", .string(maxLength: 1024), writeOnly: true,
                "With sasl_ssl; encrypted at admission, never shown again."),
            .init(
                "passwordEncrypted", .string(maxLength: 4096), readOnly: true,
                "The password as stored (encrypted). Accepted back unchanged."),
            .init("ca", .pem, "PEM certificate authorities for the brokers' certificates."),
        ])

    func admitted(_ admission: Admission<LogStreamSpec>) throws -> Self {
        let loopback = brokers.split(separator: ",").allSatisfy {
            $0.hasPrefix("127.0.0.1:") || $0.hasPrefix("localhost:") || $0.hasPrefix("[::1]:")
        }
        if securityProtocol == .plaintext && !loopback {
            throw ProblemDetails.invalidField(
                "spec.destination.securityProtocol",
                "spec.destination.securityProtocol plaintext is for this host only: audit records cross networks in TLS"
            )
        }
        try HTTPDestination.checkCA(ca, field: "spec.destination.ca")
        var stored = self
        stored.password = nil
        if securityProtocol == .saslSSL {
            guard username != nil else {
                throw ProblemDetails.invalidField(
                    "spec.destination.username", "spec.destination.username is required with sasl_ssl")
            }
            stored.passwordEncrypted = try LogStreamSecrets.admit(
                clear: password, encrypted: passwordEncrypted, field: "password", admission: admission)
        } else if username != nil || password != nil || saslMechanism != nil {
            throw ProblemDetails.invalidField(
                "spec.destination.username", "username, password and saslMechanism apply to sasl_ssl only")
        }
        return stored
    }

    /// The producer's librdkafka properties.
    func client(password: String?) -> KafkaClientConfiguration {
        var client = KafkaClientConfiguration(bootstrapServers: brokers, clientID: "sigil-audit-log-stream")
        client.additionalProperties["security.protocol"] = securityProtocol.rawValue
        if let ca { client.additionalProperties["ssl.ca.pem"] = ca }
        if securityProtocol == .saslSSL {
            client.additionalProperties["sasl.mechanism"] = saslMechanism ?? "SCRAM-SHA-512"
            client.additionalProperties["sasl.username"] = username ?? ""
            client.additionalProperties["sasl.password"] = password ?? ""
        }
        return client
    }
}

/// Produces each batch and waits for every record's acknowledgement.
final class KafkaLogSender: LogSender {
    let destination: KafkaDestination
    let formatter: LogRecordFormatter
    let producer: KafkaProducer

    init(destination: KafkaDestination, password: String?, formatter: LogRecordFormatter, logger: Logger) throws {
        self.destination = destination
        self.formatter = formatter
        var configuration = KafkaProducerConfiguration(client: destination.client(password: password))
        configuration.messageTimeoutMilliseconds = 30_000
        self.producer = try KafkaProducer(configuration: configuration, logger: logger)
    }

    func send(_ records: [AuditRecord]) async throws {
        let messages = records.map { record in
            KafkaProducerMessage(
                topic: destination.topic, key: Array(record.chain.description.utf8),
                value: Array(formatter.text(record).utf8),
                headers: [
                    KafkaHeader(key: "sigil-event-id", string: record.event.id),
                    KafkaHeader(key: "sigil-sequence", string: String(record.sequence)),
                ])
        }
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for message in messages { group.addTask { _ = try await self.producer.sendAndAwait(message) } }
                try await group.waitForAll()
            }
        } catch {
            throw LogDeliveryError(
                description: "produce to \(destination.topic) at \(destination.brokers) failed: \(error)")
        }
    }

    func close() async { try? await producer.flush() }
}
