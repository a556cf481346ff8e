import Foundation
import Logging
import Metrics
import SigilCrypto
import SigilEvents
import SigilService

/// Issues the credential of a granted request: decrypts the provider's secret, seals it to the edge's one-time key
/// for this request and writes it to the edge's reply partition. Anything missing is a refusal, never a bare timeout.
struct CredentialIssuer: Sendable {
    let keyring: TenantKeyring
    let context: ServiceContext

    func handle(_ event: CloudEvent, _ payload: any EventPayload, logger: Logger) async throws {
        guard let granted = payload as? AccessGranted else { return }
        let tenant = event.tenant
        guard !granted.deadline.hasPassed() else {
            Counter(label: "sigil.access.expired", dimensions: [("stage", "issuance")]).increment()
            logger.info("request past its deadline dropped", metadata: ["request": "\(granted.requestID)"])
            return
        }
        do {
            let sealed = try issue(granted, tenant: tenant)
            let issued = CredentialIssued(
                requestID: granted.requestID,
                credential: sealed,
                expiresAt: Date().addingTimeInterval(TimeInterval(granted.ttlSeconds)),
                leaseID: "lease-" + UUIDv7.generate(), accessPolicy: granted.accessPolicy,
                serverWorkload: granted.serverWorkload
            )
            try await context.publish(
                issued, to: .accessReplies, tenant: tenant, partitionKey: granted.requestID,
                partition: granted.reply.partition,
                subject: granted.requestID, inResponseTo: event
            )
            Counter(label: "sigil.credentials.issued", dimensions: [("provider", granted.credentialProvider)])
                .increment()
            logger.info(
                "credential issued", metadata: ["request": "\(granted.requestID)", "lease": "\(issued.leaseID)"])
        } catch let reason as RefusalReason {
            try await context.publish(
                AccessRefused(requestID: granted.requestID, stage: .issuance, reason: reason),
                to: .accessReplies, tenant: tenant, partitionKey: granted.requestID, partition: granted.reply.partition,
                subject: granted.requestID, inResponseTo: event
            )
            logger.warning(
                "issuance refused", metadata: ["request": "\(granted.requestID)", "reason": "\(reason.code)"])
        }
    }

    private func issue(_ granted: AccessGranted, tenant: String) throws(RefusalReason) -> SealedData {
        guard
            let provider = context.resources.index(CredentialProviderSpec.self).get(
                tenant: tenant, name: granted.credentialProvider)
        else {
            throw RefusalReason(
                code: "unknown-credential-provider",
                detail: "credential provider \(granted.credentialProvider) does not exist")
        }
        guard case .staticValue(let credential) = provider.spec, let value = credential.valueEncrypted else {
            throw RefusalReason(
                code: "credential-unavailable", detail: "credential provider \(provider.name) holds no value")
        }
        do {
            let secret = try keyring.decrypt(value, tenant: tenant, field: StaticCredential.field(provider.name))
            let credential = IssuedCredential(
                inject: credential.inject.rawValue, header: credential.header, prefix: credential.prefix,
                parameter: credential.parameter, value: String(decoding: secret, as: UTF8.self))
            let edgeKey = try HPKERecipientKey.publicKey(granted.reply.publicKey.bytes)
            return try HPKESealing.seal(
                Array(try JSONEncoder().encode(credential)), to: edgeKey, recipientKeyID: granted.requestID,
                context: .credential(tenant: tenant, requestID: granted.requestID)
            )
        } catch {
            throw RefusalReason(
                code: "credential-unavailable",
                detail: "the credential could not be decrypted or sealed for this request")
        }
    }
}

extension RefusalReason: Error {}
