import Foundation
import Logging
import Metrics
import SigilAttestation
import SigilCrypto
import SigilEvents
import SigilService

/// Turns an access request into an attested identity or a refusal: opens the sealed evidence, verifies each piece,
/// finds the one client workload its identifiers match. A refusal is written both to `access.attested` (for the audit) and to the edge's
/// reply partition (the request ends here).
struct AccessRequestHandler: Sendable {
    let keys: AttestationKeySchedule
    let context: ServiceContext
    let attestor: Attestor
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
            let evidence = try await attest(request, eventID: event.id, tenant: tenant, logger: logger)
            let matching = context.resources.index(ClientWorkloadSpec.self).all(tenant: tenant)
                .filter { $0.spec.matches(evidence) }
            guard let workload = matching.first else { throw AttestationRefusal.noClientWorkload }
            guard matching.count == 1 else {
                throw AttestationRefusal.ambiguousClientWorkload(matching.map(\.name).sorted())
            }
            let attested = IdentityAttested(
                requestID: request.requestID,
                target: request.target,
                reply: request.reply,
                clientWorkload: workload.name,
                trustProviders: evidence.map(\.trustProvider),
                claims: Attestor.publishedClaims(evidence),
                deadline: request.deadline,
                request: request.request
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
    ) async throws -> [VerifiedEvidence] {
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
        let bundle: WorkloadEvidenceBundle
        do {
            bundle = try WorkloadEvidenceBundle.decode(evidence)
        } catch {
            throw AttestationRefusal.evidenceMalformed("the sealed evidence is neither a token nor an evidence bundle")
        }
        let providers = trustProviders.providers(context.resources.index(TrustProviderSpec.self).all(tenant: tenant))
        return try await attestor.verify(
            bundle, tenant: tenant, requestID: request.requestID, providers: providers)
    }
}
