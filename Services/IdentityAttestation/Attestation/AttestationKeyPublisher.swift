import Foundation
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilService

/// Publishes the attestation public key on the config topic at start, so edges can seal evidence to it.
struct AttestationKeyPublisher: Service {
    /// Keys are not tenant-scoped; their events carry this tenant.
    static let systemTenant = "_system"
    let key: HPKERecipientKey
    let context: ServiceContext

    func run() async throws {
        let published = AttestationKeyPublished(
            keyID: key.keyID,
            publicKey: key.publicKeyBytes,
            ciphersuite: HPKESealing.ciphersuiteName,
            notAfter: Date().addingTimeInterval(365 * 24 * 3600)
        )
        try await context.publish(
            published, to: .config, tenant: Self.systemTenant, partitionKey: Self.systemTenant, subject: key.keyID)
        context.logger.info("published attestation key", metadata: ["key": "\(key.keyID)"])
        try? await gracefulShutdown()
    }
}
