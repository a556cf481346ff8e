import Foundation
import SigilCrypto
import SigilService
import SigilTestSupport
import Testing

@testable import AuditIngestion

/// Syslog over TLS to a receiver that authenticates its senders (rsyslog with gnutls, `x509/certvalid`).
extension LogStreamDeliveryTests {
    @Test("rsyslog requiring client certificates gets every record from a stream presenting one, none from one without")
    func deliveredWithClientCertificate() async throws {
        let receiver = try RsyslogReceiver(tls: true, requiresClientCertificate: true)
        let ca = try #require(receiver.caPEM)
        let client = try #require(receiver.clientCertificate)
        try receiver.start()
        defer { receiver.stop() }
        let kek = try KeyEncryptionKey(keyID: "audit-kek-test", material: Array(repeating: 9, count: 32))
        let clientKey = try kek.derivedDataKey(tenant: "acme", purpose: LogStreamSecrets.purpose)
            .encrypt(Array(client.key.utf8), field: LogStreamSecrets.field(stream: "mtls", "clientKey"))

        try await TestPostgres.withClient { postgres in
            let log = try await AuditLog(postgres: postgres, topic: topic, logger: logger)
            let streams = [
                Self.stream(
                    "mtls",
                    LogStreamSpec(
                        destination: .syslog(
                            .init(
                                transport: .tls, host: "127.0.0.1", port: receiver.port, ca: ca,
                                clientCertificate: client.certificate, clientKeyEncrypted: clientKey)),
                        format: .cef)),
                Self.stream(
                    "anonymous",
                    LogStreamSpec(
                        destination: .syslog(.init(transport: .tls, host: "127.0.0.1", port: receiver.port, ca: ca)),
                        format: .json)),
            ]
            let published = try await log.publish(60, topic: topic)
            let environment = LogSenderEnvironment(secrets: LogStreamSecrets(kek: kek))
            try await log.whileDelivering(streams, environment: environment) {
                let ids = published.created + published.deleted
                try await Self.waitUntil("rsyslog to get every record from the stream with a certificate") {
                    let text = receiver.lines.joined(separator: "\n")
                    return ids.allSatisfy { text.contains("externalId=\($0)") }
                }
                // The stream without a certificate is refused after its handshake: it reports so and keeps its
                // records (none counted as delivered, none received).
                let anonymous = LogStreamProgress(
                    streams[1], schema: log.schema, postgres: postgres, owner: "replica-1")
                try await Self.waitUntil("the stream without a certificate to report the refusal") {
                    let status = try await anonymous.status(destination: "", format: "", logger: logger)
                    return status.consecutiveFailures > 0 && status.lagRecords > 0
                }
                let status = try await anonymous.status(destination: "", format: "", logger: logger)
                #expect(status.deliveredRecords == 0)
                #expect(status.lastError?.contains("refused the client certificate") == true, "\(status)")
                #expect(!receiver.lines.contains { $0.contains("\"id\":\"") })
            }
            try await postgres.query("DROP SCHEMA \(unescaped: log.schema.rawValue) CASCADE", logger: logger)
        }
    }
}
