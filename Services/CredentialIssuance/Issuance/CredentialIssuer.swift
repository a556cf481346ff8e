import Foundation
import Logging
import Metrics
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilService
import X509

/// Issues the credential of a granted request: decrypts the provider's secret, seals it to the edge's one-time key
/// for this request and writes it to the edge's reply partition. Anything missing is a refusal, never a bare timeout.
struct CredentialIssuer: Sendable {
    let keyring: TenantKeyring
    let signing: TenantSigningKeys
    let authority: TenantCertificateAuthority
    /// The base of tenants' issuers (`SIGIL_ISSUE_PUBLIC_URL`).
    let publicURL: String
    /// Access tokens of `oauth2-client-credentials` providers, shared by the tenant's edges.
    let oauth2: OAuth2TokenSource
    /// Temporary credentials of `aws-sts-web-identity` providers, per workload identity.
    let sts: STSWebIdentitySource
    /// `postgres-dynamic` leases (nil without a database: such providers are then refused).
    let leases: PostgresLeases?
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
            let (sealed, lifetime, lease) = try await issue(granted, tenant: tenant)
            let issued = CredentialIssued(
                requestID: granted.requestID,
                credential: sealed,
                expiresAt: Date().addingTimeInterval(TimeInterval(lifetime)),
                leaseID: lease ?? "lease-" + UUIDv7.generate(), accessPolicy: granted.accessPolicy,
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

    /// The credential for the grant, sealed to the edge's one-time key, how many seconds it lives, and its lease when
    /// it is one (`postgres-dynamic`).
    private func issue(_ granted: AccessGranted, tenant: String) async throws -> (SealedData, Int, String?) {
        guard
            let provider = context.resources.index(CredentialProviderSpec.self).get(
                tenant: tenant, name: granted.credentialProvider)
        else {
            throw RefusalReason(
                code: "unknown-credential-provider",
                detail: "credential provider \(granted.credentialProvider) does not exist")
        }
        let credential: IssuedCredential
        var lifetime = granted.ttlSeconds
        var leaseID: String?
        switch provider.spec {
        case .staticValue(let spec):
            guard let value = spec.valueEncrypted,
                let secret = try? keyring.decrypt(value, tenant: tenant, field: StaticCredential.field(provider.name))
            else {
                throw RefusalReason(
                    code: "credential-unavailable",
                    detail: "credential provider \(provider.name) holds no readable value")
            }
            credential = IssuedCredential(
                inject: spec.inject.rawValue, header: spec.header, prefix: spec.prefix, parameter: spec.parameter,
                value: String(decoding: secret, as: UTF8.self))
        case .oauth2(let spec):
            guard let encrypted = spec.clientSecretEncrypted,
                let secret = try? keyring.decrypt(
                    encrypted, tenant: tenant,
                    field: TenantSecret.binding(provider: provider.name, field: "clientSecret"))
            else {
                throw RefusalReason(
                    code: "credential-unavailable",
                    detail: "credential provider \(provider.name) holds no readable secret")
            }
            let token = try await oauth2.token(
                for: spec, secret: String(decoding: secret, as: UTF8.self),
                cacheKey: "\(tenant)/\(provider.name)/\(provider.metadata.resourceVersion)")
            lifetime = min(lifetime, max(1, Int(token.expiresAt.timeIntervalSinceNow)))
            credential = IssuedCredential(
                inject: spec.inject.rawValue, header: spec.header, prefix: spec.prefix, value: token.value)
        case .awsWebIdentity(let spec):
            let subject = try spec.token.claims(for: granted, issuer: "", at: Date())["sub"]
            let session = try await sts.session(
                for: spec, sessionName: STSWebIdentitySource.sessionName(clientWorkload: granted.clientWorkload),
                cacheKey: "\(tenant)/\(provider.name)/\(provider.metadata.resourceVersion)/\(subject ?? .null)"
            ) { [self] in try await mint(spec.token, granted: granted, tenant: tenant) }
            lifetime = min(lifetime, max(1, Int(session.refreshAt.timeIntervalSinceNow)))
            credential = IssuedCredential(
                inject: "aws-sigv4",
                aws: AWSSigningCredentials(
                    accessKeyID: session.accessKeyID, secretAccessKey: session.secretAccessKey,
                    sessionToken: session.sessionToken, region: spec.region, service: spec.service,
                    signsPayload: spec.payload == .signed))
        case .x509(let spec):
            let spiffeID = try JWTCredential.subject(
                of: granted, claim: spec.subjectClaim, trustDomain: spec.trustDomain)
            let issued: (chainPEM: String, keyPEM: String, expiresAt: Date)
            if let imported = spec.caCertificate {
                guard let encrypted = spec.caKeyEncrypted,
                    let keyPEM = try? keyring.decrypt(
                        encrypted, tenant: tenant, field: TenantSecret.binding(provider: provider.name, field: "caKey")),
                    let (key, algorithm) = TenantCertificateAuthority.importedKey(
                        String(decoding: keyPEM, as: UTF8.self)),
                    let certificate = try? Certificate(pemEncoded: imported)
                else {
                    throw RefusalReason(
                        code: "credential-unavailable",
                        detail: "credential provider \(provider.name) holds no readable CA key")
                }
                issued = try TenantCertificateAuthority.issue(
                    by: certificate, key: key, algorithm: algorithm, spiffeID: spiffeID,
                    commonName: granted.clientWorkload, lifetime: min(lifetime, spec.ttlSeconds))
            } else {
                _ = try await keyring.currentKey(tenant: tenant, context: context)
                issued = try authority.issue(
                    tenant: tenant, spiffeID: spiffeID, commonName: granted.clientWorkload,
                    lifetime: min(lifetime, spec.ttlSeconds))
            }
            lifetime = max(1, Int(issued.expiresAt.timeIntervalSinceNow))
            credential = IssuedCredential(
                inject: "x509", certificateChain: issued.chainPEM, privateKey: issued.keyPEM)
        case .postgresStatic(let spec):
            guard let encrypted = spec.passwordEncrypted,
                let password = try? keyring.decrypt(
                    encrypted, tenant: tenant, field: TenantSecret.binding(provider: provider.name, field: "password"))
            else {
                throw RefusalReason(
                    code: "credential-unavailable",
                    detail: "credential provider \(provider.name) holds no readable password")
            }
            credential = IssuedCredential(
                inject: "postgres", value: String(decoding: password, as: UTF8.self), user: spec.user)
        case .postgresDynamic(let spec):
            let lease = try await databaseLease(granted, tenant: tenant, provider: provider, spec: spec)
            lifetime = max(1, Int(lease.expiresAt.timeIntervalSinceNow))
            leaseID = lease.leaseID
            credential = IssuedCredential(
                inject: "postgres", value: lease.password, user: lease.role, database: spec.database)
        case .jwt(let spec):
            lifetime = min(lifetime, spec.ttlSeconds)
            credential = IssuedCredential(
                inject: spec.inject.rawValue, header: spec.header, prefix: spec.prefix,
                value: try await mint(spec, granted: granted, tenant: tenant))
        }
        do {
            let edgeKey = try HPKERecipientKey.publicKey(granted.reply.publicKey.bytes)
            let sealed = try HPKESealing.seal(
                Array(try JSONEncoder().encode(credential)), to: edgeKey, recipientKeyID: granted.requestID,
                context: .credential(tenant: tenant, requestID: granted.requestID)
            )
            return (sealed, lifetime, leaseID)
        } catch {
            throw RefusalReason(
                code: "credential-unavailable", detail: "the credential could not be sealed for this request")
        }
    }

    /// The workload's lease on a `postgres-dynamic` provider's database: renewed, or granted with a new role.
    private func databaseLease(
        _ granted: AccessGranted, tenant: String, provider: Resource<CredentialProviderSpec>,
        spec: PostgresDynamicCredential
    ) async throws -> PostgresLeases.Lease {
        guard let leases else {
            throw RefusalReason(
                code: "credential-unavailable", detail: "this issuance service keeps no leases (no SIGIL_POSTGRES_URL)")
        }
        do {
            return try await leases.lease(granted, tenant: tenant, provider: provider, spec: spec)
        } catch let reason as RefusalReason {
            throw reason
        } catch let error as PSQLError {
            // The server's message (a missing privilege, an unknown role in the grants), never a query or password.
            let said = error.serverInfo?[.message].map { ": \($0)" } ?? ""
            throw RefusalReason(
                code: "database-unavailable",
                detail: "the lease's role could not be made in \(spec.address)\(said)")
        } catch {
            throw RefusalReason(
                code: "database-unavailable", detail: "the lease's role could not be made in \(spec.address)")
        }
    }

    /// A JWT for the grant, signed with the tenant's current key (its data key made on first use).
    func mint(_ spec: JWTCredential, granted: AccessGranted, tenant: String) async throws -> String {
        let issuer = "\(publicURL)/tenants/\(tenant)"
        let claims = try spec.claims(for: granted, issuer: issuer, at: Date())
        let dataKey = try await keyring.currentKey(tenant: tenant, context: context)
        if spec.algorithm == .rs256 {
            try await signing.ensureRS256(tenant: tenant, dataKey: dataKey, context: context)
        }
        guard let key = signing.current(tenant: tenant, algorithm: spec.algorithm) else {
            throw RefusalReason(
                code: "credential-unavailable", detail: "no \(spec.algorithm.rawValue) signing key for this tenant")
        }
        return try await key.sign(claims)
    }
}
extension RefusalReason: Error {}
