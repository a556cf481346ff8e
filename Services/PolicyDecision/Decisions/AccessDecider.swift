import Logging
import Metrics
import SigilEvents
import SigilService

/// Decides an attested request: the target must be a server workload and an access policy must match exactly
/// (client workload, server workload) with its trust providers satisfied by those that verified the evidence. No match is a denial, also written to the edge's reply
/// partition.
struct AccessDecider: Sendable {
    let context: ServiceContext

    func decide(
        _ attested: IdentityAttested, tenant: String
    ) -> (policy: Resource<AccessPolicySpec>?, serverWorkload: String?, reason: RefusalReason?) {
        let resources = context.resources
        guard let server = resources.index(ServerWorkloadSpec.self).serverWorkload(at: attested.target, tenant: tenant)
        else {
            return (
                nil, nil,
                RefusalReason(
                    code: "unknown-server-workload",
                    detail:
                        "\(attested.target.scheme)://\(attested.target.host):\(attested.target.port) is not a server workload"
                )
            )
        }
        let candidates = resources.index(AccessPolicySpec.self).all(tenant: tenant).filter {
            $0.spec.clientWorkload == attested.clientWorkload && $0.spec.serverWorkload == server.name
        }
        guard let policy = candidates.first(where: { $0.spec.requirement.isSatisfied(by: attested.trustProviders) })
        else {
            let detail =
                if let unsatisfied = candidates.first {
                    "access policy \(unsatisfied.name) needs \(unsatisfied.spec.requirement); the evidence was verified by "
                        + attested.trustProviders.joined(separator: ", ")
                } else {
                    "no access policy lets \(attested.clientWorkload) reach \(server.name)"
                }
            return (nil, server.name, RefusalReason(code: "no-matching-policy", detail: detail))
        }
        return (policy, server.name, nil)
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
        if let policy = decision.policy, let server = decision.serverWorkload {
            let granted = AccessGranted(
                requestID: attested.requestID, target: attested.target, reply: attested.reply,
                clientWorkload: attested.clientWorkload, serverWorkload: server, accessPolicy: policy.name,
                credentialProvider: policy.spec.credentialProvider, ttlSeconds: policy.spec.ttlSeconds,
                deadline: attested.deadline
            )
            try await context.publish(
                granted, to: .accessDecisions, tenant: tenant, partitionKey: attested.requestID,
                subject: attested.requestID, inResponseTo: event)
            Counter(label: "sigil.decisions", dimensions: [("outcome", "granted")]).increment()
            logger.info("access granted", metadata: ["request": "\(attested.requestID)", "policy": "\(policy.name)"])
        } else if let reason = decision.reason {
            try await context.publish(
                AccessDenied(
                    requestID: attested.requestID, target: attested.target, clientWorkload: attested.clientWorkload,
                    reason: reason),
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
