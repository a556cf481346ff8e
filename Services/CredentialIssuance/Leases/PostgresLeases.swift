import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilProjection
import SigilService

/// The leases of `postgres-dynamic` providers, kept in `issue.leases` (shared by every issuance replica, so a lease
/// outlives the replica that granted it): one lease per provider, edge and client workload — granted on its first
/// access request, renewed by the edge's refreshes while it uses it (a new password, a later `VALID UNTIL`), revoked
/// when it expires, when an administrator revokes it, when its provider changes, or when its edge releases it because
/// the access was withdrawn (policy or workload changed or removed, posture failed: `LeaseReleased`). Each replica
/// checks every second for leases due; the row lock (`FOR UPDATE SKIP LOCKED`) makes exactly one of them revoke each.
/// The lease is written (event, then row) before its role is created, so a crash in between leaves a lease to revoke;
/// a role left with no lease (a lost row) is an orphan, found and dropped every minute.
final class PostgresLeases: Service, Sendable {
    struct Lease: Sendable {
        let leaseID: String
        let role: String
        let password: String
        let expiresAt: Date
    }

    let postgres: PostgresClient
    let table: String
    let keyring: TenantKeyring
    let context: ServiceContext
    private let revoked = Counter(label: "sigil.issue.leases.revoked")
    private let failures = Counter(label: "sigil.issue.leases.revoke.failures")

    init(postgres: PostgresClient, schema: SchemaName, keyring: TenantKeyring, context: ServiceContext) {
        self.postgres = postgres
        self.table = "\(schema.rawValue).leases"
        self.keyring = keyring
        self.context = context
    }

    /// The lease for a grant: the held one renewed, or a new one with a new role.
    func lease(
        _ granted: AccessGranted, tenant: String, provider: Resource<CredentialProviderSpec>,
        spec: PostgresDynamicCredential
    ) async throws -> Lease {
        let administrator = try administrator(spec, tenant: tenant, provider: provider.name)
        let key = "\(provider.name)/\(granted.reply.edgeID)/\(granted.clientWorkload)"
        let lifetime = TimeInterval(min(granted.ttlSeconds, spec.ttlSeconds))
        let expiresAt = Date().addingTimeInterval(lifetime)
        let password = PostgresRoleAdministrator.password()
        let version = provider.metadata.resourceVersion
        let logger = context.logger
        return try await postgres.withTransaction(logger: logger) { connection in
            // One grant or renewal per key at a time, whichever replica has it.
            _ = try await connection.query(
                "SELECT pg_advisory_xact_lock(hashtext(\(tenant + "/" + key)))", logger: logger)
            let held = try await connection.query(
                """
                SELECT lease_id, role FROM \(unescaped: table) WHERE tenant = \(tenant) AND lease_key = \(key)
                AND provider_version = \(version) AND revoked_at IS NULL AND revoke_requested_at IS NULL
                AND expires_at > now() FOR UPDATE
                """, logger: logger
            ).collect().first?.decode((String, String).self)
            if let (leaseID, role) = held {
                try await administrator.renew(role: role, password: password, validUntil: expiresAt)
                _ = try await connection.query(
                    "UPDATE \(unescaped: table) SET expires_at = \(expiresAt) WHERE tenant = \(tenant) AND lease_id = \(leaseID)",
                    logger: logger)
                try await context.publish(
                    LeaseRenewed(leaseID: leaseID, requestID: granted.requestID, expiresAt: expiresAt),
                    to: .accessReplies, tenant: tenant, partitionKey: leaseID, partition: granted.reply.partition,
                    subject: leaseID)
                return Lease(leaseID: leaseID, role: role, password: password, expiresAt: expiresAt)
            }
            let leaseID = "lease-" + UUIDv7.generate()
            let role = PostgresRoleAdministrator.role(forLease: leaseID)
            try await context.publish(
                LeaseGranted(
                    leaseID: leaseID, requestID: granted.requestID, credentialProvider: provider.name,
                    clientWorkload: granted.clientWorkload, serverWorkload: granted.serverWorkload,
                    accessPolicy: granted.accessPolicy, edgeID: granted.reply.edgeID, role: role,
                    database: spec.address, expiresAt: expiresAt),
                to: .accessReplies, tenant: tenant, partitionKey: leaseID, partition: granted.reply.partition,
                subject: leaseID)
            let stored = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
            _ = try await connection.query(
                """
                INSERT INTO \(unescaped: table) (tenant, lease_id, request_id, credential_provider, client_workload,
                expires_at, lease_key, role, edge_id, reply_partition, server_workload, access_policy, database,
                granted_at, provider_version, provider_spec)
                VALUES (\(tenant), \(leaseID), \(granted.requestID), \(provider.name), \(granted.clientWorkload),
                \(expiresAt), \(key), \(role), \(granted.reply.edgeID), \(Int(granted.reply.partition)),
                \(granted.serverWorkload), \(granted.accessPolicy), \(spec.address), now(), \(version), \(stored)::jsonb)
                """, logger: logger)
            try await administrator.create(role: role, password: password, validUntil: expiresAt)
            return Lease(leaseID: leaseID, role: role, password: password, expiresAt: expiresAt)
        }
    }

    func run() async throws {
        // A replica just started has empty indexes until the committed resources are read: every lease's provider
        // would look removed, and every open lease would be revoked (a restart ended every session; a test found it).
        try await context.resources.loaded()
        var pass = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await requestRevocationOfChangedProviders()
                _ = try await revokeDue()
                if pass % 60 == 0 { try await dropOrphans() }
            } catch {
                context.logger.warning(
                    "lease revocation pass failed", metadata: ["error": "\(String(reflecting: error))"])
            }
            pass += 1
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Asks for a lease to end now (`sigil lease revoke`); revoked at once by this replica unless another holds it.
    func requestRevocation(tenant: String, leaseID: String, by: String) async throws -> Bool {
        let rows = try await postgres.query(
            """
            UPDATE \(unescaped: table) SET revoke_requested_at = now(), revoke_reason = 'revoked', revoked_by = \(by)
            WHERE tenant = \(tenant) AND lease_id = \(leaseID) AND revoked_at IS NULL RETURNING lease_id
            """, logger: context.logger
        ).collect()
        guard !rows.isEmpty else { return false }
        _ = try await revokeDue()
        return true
    }

    /// An edge's request to end its lease (`LeaseReleased`): revoked at once when that edge holds it in that tenant.
    /// Any other lease is left alone — an edge ends only its own access. Returns whether a lease was asked to end.
    @discardableResult
    func release(_ released: LeaseReleased, tenant: String) async throws -> Bool {
        let rows = try await postgres.query(
            """
            UPDATE \(unescaped: table) SET revoke_requested_at = now(), revoke_reason = 'access-withdrawn',
            revoked_by = \("edge \(released.edgeID.prefix(100)): \(released.reason.prefix(100))")
            WHERE tenant = \(tenant) AND lease_id = \(released.leaseID) AND edge_id = \(released.edgeID)
            AND revoked_at IS NULL AND revoke_requested_at IS NULL RETURNING lease_id
            """, logger: context.logger
        ).collect()
        guard !rows.isEmpty else {
            context.logger.info(
                "lease release ignored: no open lease of this edge by that id",
                metadata: ["lease": "\(released.leaseID.prefix(80))", "edge": "\(released.edgeID.prefix(80))"])
            return false
        }
        _ = try await revokeDue()
        return true
    }

    /// Revokes the leases that are due (expired or asked for), each by exactly one replica; returns how many.
    func revokeDue() async throws -> Int {
        let logger = context.logger
        return try await postgres.withTransaction(logger: logger) { connection in
            let due = try await connection.query(
                """
                SELECT tenant, lease_id, role, credential_provider, coalesce(revoke_reason, 'expired'), revoked_by,
                reply_partition, provider_spec::text FROM \(unescaped: table)
                WHERE revoked_at IS NULL AND role IS NOT NULL
                AND (expires_at <= now() OR revoke_requested_at IS NOT NULL)
                ORDER BY expires_at LIMIT 20 FOR UPDATE SKIP LOCKED
                """, logger: logger
            ).collect()
            var count = 0
            for row in due {
                let (tenant, leaseID, role, provider, reason, revokedBy, partition, specText) = try row.decode(
                    (String, String, String, String, String, String?, Int, String).self)
                do {
                    let spec = try JSONDecoder().decode(PostgresDynamicCredential.self, from: Data(specText.utf8))
                    let terminated = try await administrator(spec, tenant: tenant, provider: provider).revoke(
                        role: role)
                    try await context.publish(
                        LeaseRevoked(
                            leaseID: leaseID, role: role, reason: reason, revokedBy: revokedBy,
                            sessionsTerminated: terminated),
                        to: .accessReplies, tenant: tenant, partitionKey: leaseID, partition: Int32(partition),
                        subject: leaseID)
                    _ = try await connection.query(
                        """
                        UPDATE \(unescaped: table) SET revoked_at = now(), revoke_reason = \(reason),
                        sessions_terminated = \(terminated) WHERE tenant = \(tenant) AND lease_id = \(leaseID)
                        """, logger: logger)
                    revoked.increment()
                    count += 1
                    logger.notice(
                        "lease revoked",
                        metadata: [
                            "tenant": "\(tenant)", "lease": "\(leaseID)", "reason": "\(reason)",
                            "sessions.terminated": "\(terminated)",
                        ])
                } catch {
                    // Left for the next pass: a database that is down is revoked when it is back (its role's
                    // VALID UNTIL already keeps it from logging in).
                    failures.increment()
                    logger.warning(
                        "lease not revoked yet",
                        metadata: ["lease": "\(leaseID)", "error": "\(String(reflecting: error))"])
                }
            }
            return count
        }
    }

    /// Leases of providers that changed or went: they were granted under what no longer holds (`run` calls it only
    /// once the committed resources are loaded).
    private func requestRevocationOfChangedProviders() async throws {
        let index = context.resources.index(CredentialProviderSpec.self)
        let rows = try await postgres.query(
            """
            SELECT DISTINCT tenant, credential_provider, provider_version FROM \(unescaped: table)
            WHERE revoked_at IS NULL AND revoke_requested_at IS NULL AND role IS NOT NULL
            """, logger: context.logger
        ).collect()
        for row in rows {
            let (tenant, provider, version) = try row.decode((String, String, String).self)
            let current = index.get(tenant: tenant, name: provider)
            guard current?.metadata.resourceVersion != version else { continue }
            _ = try await postgres.query(
                """
                UPDATE \(unescaped: table) SET revoke_requested_at = now(), revoke_reason = 'provider-changed'
                WHERE tenant = \(tenant) AND credential_provider = \(provider) AND provider_version = \(version)
                AND revoked_at IS NULL AND revoke_requested_at IS NULL
                """, logger: context.logger)
        }
    }

    /// Roles named like leases that no open lease has, older than two minutes (a lease's row is written before its
    /// role, so a younger one may be a grant in flight), in the databases of the current `postgres-dynamic` providers.
    func dropOrphans() async throws {
        let logger = context.logger
        try await postgres.withTransaction(logger: logger) { connection in
            // One replica sweeps at a time.
            let locked =
                try await connection.query(
                    "SELECT pg_try_advisory_xact_lock(hashtext('sigil-issue lease orphans'))", logger: logger
                ).collect().first?.decode(Bool.self) ?? false
            guard locked else { return }
            var swept = Set<String>()
            for provider in context.resources.index(CredentialProviderSpec.self).everything {
                guard case .postgresDynamic(let spec) = provider.spec, swept.insert(spec.address).inserted else {
                    continue
                }
                let administrator = try administrator(spec, tenant: provider.metadata.tenant, provider: provider.name)
                for role in try await administrator.leaseRoles() {
                    guard let leaseID = PostgresRoleAdministrator.lease(ofRole: role),
                        let created = Self.creation(of: leaseID),
                        created < Date().addingTimeInterval(-120)
                    else { continue }
                    let open = try await connection.query(
                        "SELECT 1 FROM \(unescaped: table) WHERE lease_id = \(leaseID) AND revoked_at IS NULL",
                        logger: logger
                    ).collect()
                    guard open.isEmpty else { continue }
                    let terminated = try await administrator.revoke(role: role)
                    try await context.publish(
                        LeaseRevoked(leaseID: leaseID, role: role, reason: "orphaned", sessionsTerminated: terminated),
                        to: .accessReplies, tenant: provider.metadata.tenant, partitionKey: leaseID, subject: leaseID)
                    logger.notice("orphaned lease role dropped", metadata: ["role": "\(role)"])
                }
            }
        }
    }

    /// When a lease was granted, from its id (a UUIDv7 begins with its creation's Unix milliseconds).
    static func creation(of leaseID: String) -> Date? {
        let hex = leaseID.dropFirst("lease-".count).replacingOccurrences(of: "-", with: "").prefix(12)
        guard hex.count == 12, let milliseconds = UInt64(hex, radix: 16) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }

    /// The provider's administrator, its password decrypted.
    private func administrator(
        _ spec: PostgresDynamicCredential, tenant: String, provider: String
    ) throws -> PostgresRoleAdministrator {
        guard let encrypted = spec.adminPasswordEncrypted,
            let password = try? keyring.decrypt(
                encrypted, tenant: tenant, field: TenantSecret.binding(provider: provider, field: "adminPassword"))
        else {
            throw RefusalReason(
                code: "credential-unavailable",
                detail: "credential provider \(provider) holds no readable admin password")
        }
        return PostgresRoleAdministrator(
            spec: spec, adminPassword: String(decoding: password, as: UTF8.self), logger: context.logger)
    }
}
