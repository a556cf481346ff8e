import Foundation
import Logging
import Metrics
import SigilCrypto
import SigilEvents
import SigilService

/// Turns an access request into an attested identity or a refusal: opens the sealed evidence, verifies the token,
/// finds the client workload. A refusal is written both to `access.attested` (for the audit) and to the edge's
/// reply partition (the request ends here).
struct AccessRequestHandler: Sendable {
    let key: HPKERecipientKey
    let context: ServiceContext
    let verifier = ServiceAccountTokenVerifier()

    func handle(_ event: CloudEvent, _ payload: any EventPayload, logger: Logger) async throws {
        guard let request = payload as? AccessRequested else { return }
        let tenant = event.tenant
        do {
            let identity = try await attest(request, tenant: tenant)
            let workload = context.resources.index(ClientWorkloadSpec.self).all(tenant: tenant)
                .first { $0.spec.matches(identity) }
            guard let workload else { throw AttestationRefusal.noClientWorkload }
            let attested = IdentityAttested(
                requestID: request.requestID,
                target: request.target,
                reply: request.reply,
                clientWorkload: workload.name,
                trustProvider: identity.trustProvider,
                claims: [
                    "iss": identity.issuer, "sub": identity.subject, "namespace": identity.namespace,
                    "serviceAccount": identity.serviceAccount,
                ]
            )
            try await context.publish(
                attested, to: .accessAttested, tenant: tenant, partitionKey: request.requestID,
                subject: request.requestID, traceparent: event.traceparent)
            Counter(label: "sigil.attestations", dimensions: [("outcome", "attested")]).increment()
            logger.info(
                "identity attested",
                metadata: ["request": "\(request.requestID)", "clientWorkload": "\(workload.name)"])
        } catch let refusal as AttestationRefusal {
            let reason = RefusalReason(code: refusal.code, detail: refusal.detail)
            try await context.publish(
                AttestationFailed(requestID: request.requestID, target: request.target, reason: reason),
                to: .accessAttested, tenant: tenant, partitionKey: request.requestID, subject: request.requestID,
                traceparent: event.traceparent
            )
            try await context.publish(
                AccessRefused(requestID: request.requestID, stage: .attestation, reason: reason),
                to: .accessReplies, tenant: tenant, partitionKey: request.requestID, partition: request.reply.partition,
                subject: request.requestID, traceparent: event.traceparent
            )
            Counter(label: "sigil.attestations", dimensions: [("outcome", refusal.code)]).increment()
            logger.info(
                "attestation refused", metadata: ["request": "\(request.requestID)", "reason": "\(refusal.code)"])
        }
    }

    private func attest(
        _ request: AccessRequested, tenant: String
    ) async throws(AttestationRefusal) -> VerifiedServiceAccount {
        let evidence: [UInt8]
        do {
            evidence = try key.open(request.evidence, context: .evidence(tenant: tenant, requestID: request.requestID))
        } catch {
            throw .evidenceUnsealable
        }
        guard let token = String(validating: evidence, as: UTF8.self) else { throw .tokenMalformed }
        let providers = context.resources.index(TrustProviderSpec.self).all(tenant: tenant).map(TrustProvider.init)
        return try await verifier.verify(token.trimmingCharacters(in: .whitespacesAndNewlines), providers: providers)
    }
}
