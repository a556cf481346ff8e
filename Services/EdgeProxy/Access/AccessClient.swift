import Crypto
import Foundation
import Logging
import Metrics
import SigilCrypto
import SigilEvents
import SigilService

/// Why the edge will not forward a request to a server workload.
struct EdgeRefusal: Error, Sendable {
    enum Kind: Sendable { case refused, unavailable }
    let kind: Kind
    let stage: String
    let code: String
    let detail: String
}

/// Obtains credentials through the access flow: seals the workload's token to the attestation key, publishes the
/// request with a one-time reply key, and waits for the terminal reply on this edge's partition.
struct AccessClient: Sendable {
    let context: ServiceContext
    let edge: EdgeConfiguration
    let view: ControlPlaneView
    let replies: ReplyListener
    let cache: CredentialCache

    func credential(for target: AccessTarget, logger: Logger) async throws(EdgeRefusal) -> HeldCredential {
        let token: String
        do {
            token = try String(contentsOfFile: edge.tokenFile, encoding: .utf8).trimmingCharacters(
                in: .whitespacesAndNewlines)
        } catch {
            throw EdgeRefusal(
                kind: .refused, stage: "edge", code: "evidence-unavailable",
                detail: "the workload token file cannot be read")
        }
        guard !token.isEmpty else {
            throw EdgeRefusal(
                kind: .refused, stage: "edge", code: "evidence-unavailable", detail: "the workload token file is empty")
        }
        let digest = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
        let cacheKey = CredentialCache.key(
            target: "\(target.scheme)://\(target.host):\(target.port)", evidenceDigest: digest)
        if let held = cache.fresh(cacheKey) {
            Counter(label: "sigil.edge.credentials", dimensions: [("source", "cache")]).increment()
            return held
        }
        let held = try await request(target: target, token: token, logger: logger)
        cache.store(held, for: cacheKey)
        return held
    }

    private func request(
        target: AccessTarget, token: String, logger: Logger
    ) async throws(EdgeRefusal) -> HeldCredential {
        guard let attestationKey = view.currentAttestationKey, let partition = replies.replyPartition else {
            throw EdgeRefusal(
                kind: .unavailable, stage: "edge", code: "control-plane-unavailable",
                detail: "no attestation key or reply partition yet")
        }
        let requestID = UUIDv7.generate()
        let replyKey = HPKERecipientKey(keyID: requestID)
        let reply: AccessReply?
        do {
            let sealed = try HPKESealing.seal(
                Array(token.utf8), to: try HPKERecipientKey.publicKey(attestationKey.publicKey),
                recipientKeyID: attestationKey.keyID,
                context: .evidence(tenant: edge.tenant, requestID: requestID)
            )
            let requested = AccessRequested(
                requestID: requestID, target: target, evidence: sealed,
                reply: ReplyAddress(edgeID: edge.edgeID, partition: partition, publicKey: replyKey.publicKeyBytes)
            )
            reply = try await replies.reply(to: requestID, within: edge.timeout) {
                try await context.publish(
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
            struct Sealed: Decodable {
                let inject: String
                let header: String?
                let value: String
            }
            do {
                let plaintext = try replyKey.open(
                    issued.credential, context: .credential(tenant: edge.tenant, requestID: requestID))
                let credential = try JSONDecoder().decode(Sealed.self, from: Data(plaintext))
                Counter(label: "sigil.edge.credentials", dimensions: [("source", "issued")]).increment()
                logger.info("credential obtained", metadata: ["request": "\(requestID)", "lease": "\(issued.leaseID)"])
                return HeldCredential(
                    requestID: requestID, inject: credential.inject, header: credential.header, value: credential.value,
                    obtainedAt: Date(),
                    expiresAt: issued.expiresAt)
            } catch {
                throw EdgeRefusal(
                    kind: .refused, stage: "edge", code: "credential-unreadable",
                    detail: "the issued credential does not open with this request's key")
            }
        }
    }
}
