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
    let keys: AttestationKeySchedule
    let context: ServiceContext
    let verifier: ServiceAccountTokenVerifier
    let trustProviders = TrustProviderCache()
    /// Where request ids already taken are kept (nil only in tests without a database: then nothing is recorded).
    let ledger: RequestLedger?
    /// No edge waits longer than this for an answer; a request claiming a later deadline is refused.
    static let maximumDeadlineAhead: TimeInterval = 60

    func handle(_ event: CloudEvent, _ payload: any EventPayload, logger: Logger) async throws {
        guard let request = payload as? AccessRequested else { return }
        let tenant = event.tenant
        // The edge has stopped waiting: nobody would collect the answer.
        guard !request.deadline.hasPassed() else {
            Counter(label: "sigil.access.expired", dimensions: [("stage", "attestation")]).increment()
            logger.info("request past its deadline dropped", metadata: ["request": "\(request.requestID)"])
            return
        }
        do {
            let identity = try await attest(request, eventID: event.id, tenant: tenant, logger: logger)
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
                ],
                deadline: request.deadline
            )
            try await context.publish(
                attested, to: .accessAttested, tenant: tenant, partitionKey: request.requestID,
                subject: request.requestID, inResponseTo: event)
            Counter(label: "sigil.attestations", dimensions: [("outcome", "attested")]).increment()
            logger.info(
                "identity attested",
                metadata: ["request": "\(request.requestID)", "clientWorkload": "\(workload.name)"])
        } catch let refusal as AttestationRefusal {
            let reason = RefusalReason(code: refusal.code, detail: refusal.detail)
            try await context.publish(
                AttestationFailed(requestID: request.requestID, target: request.target, reason: reason),
                to: .accessAttested, tenant: tenant, partitionKey: request.requestID, subject: request.requestID,
                inResponseTo: event
            )
            try await context.publish(
                AccessRefused(requestID: request.requestID, stage: .attestation, reason: reason),
                to: .accessReplies, tenant: tenant, partitionKey: request.requestID, partition: request.reply.partition,
                subject: request.requestID, inResponseTo: event
            )
            Counter(label: "sigil.attestations", dimensions: [("outcome", refusal.code)]).increment()
            logger.info(
                "attestation refused", metadata: ["request": "\(request.requestID)", "reason": "\(refusal.code)"])
        }
    }

    private func attest(
        _ request: AccessRequested, eventID: String, tenant: String, logger: Logger
    ) async throws -> VerifiedServiceAccount {
        let evidence: [UInt8]
        do {
            // Bound to tenant, request id, edge, reply key, target and deadline: a copy in any other request fails.
            guard let key = keys.acceptedKeys()[request.evidence.recipientKeyID] else {
                throw AttestationRefusal.evidenceUnsealable
            }
            evidence = try key.open(request.evidence, context: .evidence(tenant: tenant, of: request))
        } catch {
            throw AttestationRefusal.evidenceUnsealable
        }
        guard request.deadline.date.timeIntervalSinceNow <= Self.maximumDeadlineAhead else {
            throw AttestationRefusal.deadlineTooFar
        }
        if let ledger,
            try await ledger.record(
                tenant: tenant, requestID: request.requestID, eventID: eventID, deadline: request.deadline,
                logger: logger) == .replayed
        {
            throw AttestationRefusal.replayedRequest
        }
        guard let token = String(validating: evidence, as: UTF8.self) else { throw AttestationRefusal.tokenMalformed }
        let providers = trustProviders.providers(context.resources.index(TrustProviderSpec.self).all(tenant: tenant))
        return try await verifier.verify(token.trimmingCharacters(in: .whitespacesAndNewlines), providers: providers)
    }
}
