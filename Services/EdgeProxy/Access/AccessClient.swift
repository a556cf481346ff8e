import Crypto
import Foundation
import Logging
import Metrics
import SigilCrypto
import SigilEvents
import SigilService

/// Obtains credentials through the access flow: seals the workload's evidence to the attestation key, publishes the
/// request with a one-time reply key, and waits for the terminal reply on this edge's partition until the deadline.
/// Publishing only enqueues the record (librdkafka sends it), so a broker that does not answer costs the request
/// its deadline, never more.
struct AccessClient: AccessRequester {
    let context: ServiceContext
    let edge: EdgeConfiguration
    let view: ControlPlaneView
    let replies: ReplyListener

    func requestCredential(
        for workload: EdgeServerWorkload, request: RequestAttributes, evidence: WorkloadEvidence.Gathered,
        deadline: ContinuousClock.Instant, logger: Logger
    ) async throws(EdgeRefusal) -> HeldCredential {
        guard let attestationKey = view.currentAttestationKey, let partition = replies.replyPartition else {
            throw EdgeRefusal(
                kind: .unavailable, stage: "edge", code: "control-plane-unavailable",
                detail: "no attestation key or reply partition yet")
        }
        let requestID = UUIDv7.generate()
        let replyKey = HPKERecipientKey(keyID: requestID)
        let replyAddress = ReplyAddress(edgeID: edge.edgeID, partition: partition, publicKey: replyKey.publicKeyBytes)
        let remaining = ContinuousClock.now.duration(to: deadline).components
        let wallDeadline = Deadline(
            Date().addingTimeInterval(Double(remaining.seconds) + Double(remaining.attoseconds) / 1e18))
        let reply: AccessReply?
        do {
            let sealed = try HPKESealing.seal(
                Array(try JSONEncoder().encode(evidence.bundle(tenant: edge.tenant, requestID: requestID))),
                to: try HPKERecipientKey.publicKey(attestationKey.publicKey),
                recipientKeyID: attestationKey.keyID,
                context: .evidence(
                    tenant: edge.tenant, requestID: requestID, edgeID: edge.edgeID,
                    replyKey: replyKey.publicKeyBytes, target: workload.target, deadline: wallDeadline)
            )
            let requested = AccessRequested(
                requestID: requestID, target: workload.target, evidence: sealed, reply: replyAddress,
                deadline: wallDeadline, request: request)
            reply = try await replies.reply(to: requestID, by: deadline) {
                try context.enqueue(
                    requested, to: .accessRequests, tenant: edge.tenant, partitionKey: requestID, subject: requestID)
            }
        } catch {
            logger.warning(
                "access request not sent",
                metadata: ["request": "\(requestID)", "error": "\(String(reflecting: error))"])
            throw EdgeRefusal(
                kind: .unavailable, stage: "edge", code: "control-plane-unavailable",
                detail: "the access request could not be sent")
        }
        switch reply {
        case nil:
            Counter(label: "sigil.edge.credentials", dimensions: [("source", "timeout")]).increment()
            throw EdgeRefusal(
                kind: .unavailable, stage: "edge", code: "control-plane-timeout",
                detail: "no answer from the control plane within \(edge.timeout)")
        case .refused(let refused):
            Counter(label: "sigil.edge.credentials", dimensions: [("source", "refused")]).increment()
            throw EdgeRefusal(
                kind: .refused, stage: refused.stage.rawValue, code: refused.reason.code, detail: refused.reason.detail)
        case .issued(let issued):
            let held: HeldCredential
            struct Sealed: Decodable {
                let inject: String
                let header: String?
                let prefix: String?
                let parameter: String?
                let value: String?
                let aws: AWSSigningCredentials?
                let certificateChain: String?
                let privateKey: String?
                let user: String?
                let database: String?
            }
            let credential: Sealed
            do {
                let plaintext = try replyKey.open(
                    issued.credential, context: .credential(tenant: edge.tenant, requestID: requestID))
                credential = try JSONDecoder().decode(Sealed.self, from: Data(plaintext))
            } catch {
                throw EdgeRefusal(
                    kind: .refused, stage: "edge", code: "credential-unreadable",
                    detail: "the issued credential does not open with this request's key")
            }
            let injected: HeldCredential?
            // A database login is for a postgres server workload, and a postgres server workload takes nothing else.
            guard (credential.inject == "postgres") == (workload.target.scheme == "postgres") else {
                throw EdgeRefusal(
                    kind: .refused, stage: "edge", code: "credential-unusable",
                    detail: workload.target.scheme == "postgres"
                        ? "server workload \(workload.name) is a PostgreSQL database: its access policy's credential "
                            + "provider must be postgres-static or postgres-dynamic"
                        : "a PostgreSQL login cannot be injected into HTTP: server workload \(workload.name) is "
                            + workload.target.scheme)
            }
            if credential.inject == "postgres" {
                injected = credential.user.flatMap { user in
                    credential.value.map { password in
                        HeldCredential(
                            requestID: requestID,
                            injection: .postgres(user: user, password: password, database: credential.database),
                            obtainedAt: Date(), expiresAt: issued.expiresAt, accessPolicy: issued.accessPolicy,
                            serverWorkload: issued.serverWorkload, leaseID: issued.leaseID)
                    }
                }
            } else if credential.inject == "x509" {
                injected = try Self.clientCertificate(
                    credential.certificateChain, credential.privateKey, workload: workload, requestID: requestID,
                    expiresAt: issued.expiresAt, accessPolicy: issued.accessPolicy,
                    serverWorkload: issued.serverWorkload)
            } else {
                injected = HeldCredential(
                    requestID: requestID, inject: credential.inject, header: credential.header,
                    prefix: credential.prefix, parameter: credential.parameter, value: credential.value,
                    aws: credential.aws, obtainedAt: Date(), expiresAt: issued.expiresAt,
                    accessPolicy: issued.accessPolicy, serverWorkload: issued.serverWorkload)
            }
            guard let injected else {
                throw EdgeRefusal(
                    kind: .refused, stage: "edge", code: "credential-unusable",
                    detail:
                        "the issued credential's injection (\(credential.inject.prefix(32))) is not one this edge knows"
                )
            }
            held = injected
            guard held.isSendable else {
                throw EdgeRefusal(
                    kind: .refused, stage: "edge", code: "credential-unusable",
                    detail: "the issued credential cannot be sent as it is (header or parameter name, value characters)"
                )
            }
            Counter(label: "sigil.edge.credentials", dimensions: [("source", "issued")]).increment()
            logger.info("credential obtained", metadata: ["request": "\(requestID)", "lease": "\(issued.leaseID)"])
            return held
        }
    }

    /// An `x509` credential: the TLS to the server workload, presenting the certificate. Only an https server
    /// workload can take one.
    static func clientCertificate(
        _ chain: String?, _ key: String?, workload: EdgeServerWorkload, requestID: String, expiresAt: Date,
        accessPolicy: String?, serverWorkload: String?
    ) throws(EdgeRefusal) -> HeldCredential? {
        guard let chain, let key else { return nil }
        guard let tls = workload.tls else {
            throw EdgeRefusal(
                kind: .refused, stage: "edge", code: "credential-unusable",
                detail: "an x509 credential is presented in TLS: server workload \(workload.name) must be scheme https")
        }
        guard let presenting = try? tls.presenting(chainPEM: chain, keyPEM: key) else {
            throw EdgeRefusal(
                kind: .refused, stage: "edge", code: "credential-unusable",
                detail: "the issued client certificate or its key does not load")
        }
        return HeldCredential(
            requestID: requestID, injection: .clientCertificate, obtainedAt: Date(), expiresAt: expiresAt,
            accessPolicy: accessPolicy, serverWorkload: serverWorkload, upstreamTLS: presenting)
    }
}
