import Foundation
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilService

/// Publishes the attestation public keys on the config topic: at start the current and next periods' keys, then the
/// next one at every period boundary, each valid from its period's start to the end of the period after (the
/// overlap). Edges seal to the key whose validity began last; a new edge finds them on the compacted topic. Every
/// replica publishes the same keys (they derive them alike); consumers take a key once.
struct AttestationKeyPublisher: Service {
    let schedule: AttestationKeySchedule
    let context: ServiceContext

    func run() async throws {
        var published = Set<Int64>()
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let current = schedule.epoch(at: Date())
            for epoch in [current, current + 1] where !published.contains(epoch) {
                try await publish(epoch)
                published.insert(epoch)
            }
            let untilNext = schedule.start(of: current + 1).timeIntervalSinceNow
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(max(0.05, untilNext))) }
        }
    }

    private func publish(_ epoch: Int64) async throws {
        let key = schedule.key(for: epoch)
        let published = AttestationKeyPublished(
            keyID: key.keyID,
            publicKey: key.publicKeyBytes,
            ciphersuite: HPKESealing.ciphersuiteName,
            notAfter: schedule.start(of: epoch + 2),
            notBefore: schedule.start(of: epoch)
        )
        try await context.publish(
            published, to: .config, tenant: AttestationKeyPublished.tenant,
            partitionKey: "\(AttestationKeyPublished.tenant)/attestation-key/\(key.keyID)", subject: key.keyID)
        context.logger.info(
            "published attestation key", metadata: ["key": "\(key.keyID)", "validFrom": "\(schedule.start(of: epoch))"])
    }
}
