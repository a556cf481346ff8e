import Foundation
import Logging
import Metrics
import SigilEvents
import SigilPolicy
import SigilService

/// Decides an attested request with the policy engine (`PolicyEngine`: the target must be a server workload; deny
/// overrides allow; every policy weighed is explained). A grant goes to `access.decisions` for issuance; a refusal
/// too, and to the edge's reply partition, its detail saying which policy denied or why none applied.
struct AccessDecider: Sendable {
    let context: ServiceContext
    let engine: PolicyEngine

    init(context: ServiceContext, engine: PolicyEngine? = nil) {
        self.context = context
        self.engine = engine ?? PolicyEngine(context.resources)
    }

    func decide(_ attested: IdentityAttested, tenant: String, at moment: Date = Date()) -> PolicyEngine.Decision {
        engine.decide(
            clientWorkload: attested.clientWorkload, target: attested.target, request: attested.request,
            trustProviders: attested.trustProviders, claims: attested.claims, tenant: tenant, at: moment)
    }

    func handle(_ event: CloudEvent, _ payload: any EventPayload, logger: Logger) async throws {
        guard let attested = payload as? IdentityAttested else { return }
        let tenant = event.tenant
        // The edge has stopped waiting: deciding now would only issue a credential nobody collects.
        guard !attested.deadline.hasPassed() else {
            Counter(label: "sigil.access.expired", dimensions: [("stage", "policy")]).increment()
            logger.info("request past its deadline dropped", metadata: ["request": "\(attested.requestID)"])
            return
        }
        let decision = decide(attested, tenant: tenant)
        if let policy = decision.policy, let server = decision.serverWorkload,
            let credentialProvider = decision.credentialProvider
        {
            let granted = AccessGranted(
                requestID: attested.requestID, target: attested.target, reply: attested.reply,
                clientWorkload: attested.clientWorkload, serverWorkload: server, accessPolicy: policy.name,
                credentialProvider: credentialProvider, ttlSeconds: decision.ttlSeconds ?? policy.spec.ttlSeconds,
                deadline: attested.deadline, explanation: decision.explanation, request: attested.request,
                claims: attested.claims
            )
            try await context.publish(
                granted, to: .accessDecisions, tenant: tenant, partitionKey: attested.requestID,
                subject: attested.requestID, inResponseTo: event)
            Counter(label: "sigil.decisions", dimensions: [("outcome", "granted")]).increment()
            logger.info("access granted", metadata: ["request": "\(attested.requestID)", "policy": "\(policy.name)"])
        } else {
            let reason =
                decision.refusal
                ?? RefusalReason(code: "no-matching-policy", detail: "no access policy grants this request")
            try await context.publish(
                AccessDenied(
                    requestID: attested.requestID, target: attested.target, clientWorkload: attested.clientWorkload,
                    reason: reason, explanation: decision.explanation, request: attested.request),
                to: .accessDecisions, tenant: tenant, partitionKey: attested.requestID, subject: attested.requestID,
                inResponseTo: event
            )
            try await context.publish(
                AccessRefused(requestID: attested.requestID, stage: .policy, reason: reason),
                to: .accessReplies, tenant: tenant, partitionKey: attested.requestID,
                partition: attested.reply.partition,
                subject: attested.requestID, inResponseTo: event
            )
            Counter(label: "sigil.decisions", dimensions: [("outcome", reason.code)]).increment()
            logger.info("access denied", metadata: ["request": "\(attested.requestID)", "reason": "\(reason.code)"])
        }
    }
}
