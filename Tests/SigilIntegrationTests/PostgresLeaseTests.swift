import Foundation
import Logging
import NIOPosix
import PostgresNIO
import SigilClient
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import CredentialIssuance
@testable import SigilProjection
@testable import SigilService

/// `postgres-dynamic` leases with sigil-issue's own parts on the test run's PostgreSQL (both as its projection
/// database and as the target, administered by a CREATEROLE role that is no superuser) and the Kafka mock broker.
@Suite("postgres-dynamic leases: roles made, renewed, revoked once by one replica, orphans dropped", .serialized)
struct PostgresLeaseTests {
    let logger = Logger(label: "test.leases")
    static let adminPassword = "lease-admin-" + UUID().uuidString

    struct Replicas {
        let first: PostgresLeases
        let second: PostgresLeases
        let context: ServiceContext
        let cluster: KafkaMockCluster
        let provider: Resource<CredentialProviderSpec>
        let spec: PostgresDynamicCredential
    }

    func withReplicas(_ body: @Sendable (Replicas) async throws -> Void) async throws {
        _ = try await DatabaseEdge.admin(
            """
            DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sigil_test_lease_admin') THEN
            CREATE ROLE sigil_test_lease_admin LOGIN CREATEROLE; END IF;
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'sigil_test_readers') THEN
            CREATE ROLE sigil_test_readers; END IF; END $$;
            ALTER ROLE sigil_test_lease_admin PASSWORD '\(Self.adminPassword)';
            GRANT sigil_test_readers TO sigil_test_lease_admin WITH ADMIN OPTION
            """)
        let url = try #require(URLComponents(string: try TestPostgres.url()))
        try await TestPostgres.withClient { postgres in
            let schema = TestPostgres.uniqueSchema("issue")
            try await MigrationRunner(schema: schema, migrations: SigilServiceDefinition.credentialIssuance.migrations)
                .apply(on: postgres, logger: logger)
            let (cluster, context) = try await IssuanceTestContext.make(
                postgres: postgres, topics: [.accessReplies], logger: logger)
            let keyring = TenantKeyring(kek: try KeyEncryptionKey(keyID: "kek-1", material: (0..<32).map { UInt8($0) }))
            let dataKey = TenantDataKey(tenant: "acme")
            keyring.remember(dataKey)
            var spec = PostgresDynamicCredential(
                host: url.host ?? "127.0.0.1", port: url.port ?? 5432, database: String(url.path.dropFirst()),
                sslmode: .disable, ca: nil, adminUser: "sigil_test_lease_admin", adminPassword: nil,
                adminPasswordEncrypted: nil, ttlSeconds: 3_600,
                grants: .init(roles: ["sigil_test_readers"], schemas: nil))
            spec.adminPasswordEncrypted = try dataKey.encrypt(
                Array(Self.adminPassword.utf8), field: TenantSecret.binding(provider: "orders", field: "adminPassword"))
            let provider = Resource<CredentialProviderSpec>(
                metadata: ResourceMetadata(
                    name: "orders", tenant: "acme", labels: [:], uid: UUID().uuidString, resourceVersion: "1",
                    generation: 1, createdAt: Date(), updatedAt: Date(), createdBy: "test"),
                spec: .postgresDynamic(spec))
            context.resources.index(CredentialProviderSpec.self).define(provider)
            func replica() -> PostgresLeases {
                PostgresLeases(postgres: postgres, schema: schema, keyring: keyring, context: context)
            }
            try await body(
                Replicas(
                    first: replica(), second: replica(), context: context, cluster: cluster, provider: provider,
                    spec: spec))
        }
    }

    static func granted(edge: String = "edge-1", ttl: Int = 300) -> AccessGranted {
        AccessGranted(
            requestID: UUIDv7.generate(), target: AccessTarget(scheme: "postgres", host: "127.0.0.1", port: 5432),
            reply: ReplyAddress(edgeID: edge, partition: 0, publicKey: []), clientWorkload: "billing",
            serverWorkload: "orders-db", accessPolicy: "billing-orders", credentialProvider: "orders",
            ttlSeconds: ttl, deadline: Deadline(Date().addingTimeInterval(5)))
    }

    /// A postgres-nio session logged in as the lease's role, left open.
    func session(as lease: PostgresLeases.Lease) async throws -> PostgresConnection {
        let url = try #require(URLComponents(string: try TestPostgres.url()))
        return try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: .init(
                host: url.host ?? "127.0.0.1", port: url.port ?? 5432, username: lease.role,
                password: lease.password, database: String(url.path.dropFirst()), tls: .disable),
            id: 7, logger: logger)
    }

    /// `sql` as the lease's role, with its password (nil: the login failed).
    static func asLease(_ lease: PostgresLeases.Lease, password: String? = nil, _ sql: String) async throws -> String? {
        let url = try #require(URLComponents(string: try TestPostgres.url()))
        let (status, output) = try await ProcessLauncher.runDetached(
            "/usr/bin/env",
            [
                "PGPASSWORD=\(password ?? lease.password)", "/usr/bin/psql",
                "host=\(url.host ?? "127.0.0.1") port=\(url.port ?? 5432) user=\(lease.role) dbname=\(url.path.dropFirst()) sslmode=disable",
                "-w", "-At", "-c", sql,
            ])
        return status == 0 ? output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }

    @Test(
        "a lease is a role with its password (the server holds only a SCRAM verifier), its grants and VALID UNTIL; renewal keeps the role, replaces the password"
    )
    func grantAndRenew() async throws {
        try await withReplicas { replicas in
            let lease = try await replicas.first.lease(
                Self.granted(), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            #expect(lease.role == PostgresRoleAdministrator.role(forLease: lease.leaseID))
            #expect(try await Self.asLease(lease, "SELECT current_user") == lease.role)
            let stored = try await DatabaseEdge.admin(
                "SELECT left(rolpassword, 14), rolvaliduntil IS NOT NULL, pg_has_role('\(lease.role)', 'sigil_test_readers', 'MEMBER') FROM pg_authid WHERE rolname = '\(lease.role)'"
            )
            #expect(stored == "SCRAM-SHA-256$|t|t", "\(stored)")
            // The same edge and workload again (the edge refreshing): the same lease and role, a new password.
            let renewed = try await replicas.second.lease(
                Self.granted(), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            #expect(renewed.leaseID == lease.leaseID && renewed.role == lease.role)
            #expect(renewed.password != lease.password)
            #expect(try await Self.asLease(renewed, "SELECT 1") == "1")
            #expect(try await Self.asLease(lease, "SELECT 1") == nil, "the old password no longer logs in")
            // Another edge: a lease of its own.
            let other = try await replicas.first.lease(
                Self.granted(edge: "edge-2"), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            #expect(other.leaseID != lease.leaseID)
            #expect(try await replicas.first.requestRevocation(tenant: "acme", leaseID: lease.leaseID, by: "test"))
            #expect(try await replicas.first.requestRevocation(tenant: "acme", leaseID: other.leaseID, by: "test"))
        }
    }

    @Test(
        "an edge releases its own lease (access withdrawn): ended at once, its session terminated; another edge cannot")
    func releasedByItsEdge() async throws {
        try await withReplicas { replicas in
            let lease = try await replicas.first.lease(
                Self.granted(edge: "edge-1"), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            let session = try await session(as: lease)
            // Another edge naming this lease, or this edge in another tenant: nothing happens.
            let stranger = LeaseReleased(
                leaseID: lease.leaseID, edgeID: "edge-2", reason: "no-matching-policy", detail: "no policy")
            #expect(try await replicas.second.release(stranger, tenant: "acme") == false)
            let own = LeaseReleased(
                leaseID: lease.leaseID, edgeID: "edge-1", reason: "no-matching-policy", detail: "no policy")
            #expect(try await replicas.second.release(own, tenant: "other-tenant") == false)
            #expect(try await Self.asLease(lease, "SELECT 1") == "1", "the lease still logs in")
            // Its own edge: revoked at once, the session terminated, the role gone, the reason and edge recorded.
            #expect(try await replicas.second.release(own, tenant: "acme"))
            #expect(session.isClosed, "the session was terminated")
            try? await session.close()
            #expect(
                try await DatabaseEdge.admin("SELECT count(*) FROM pg_roles WHERE rolname = '\(lease.role)'") == "0")
            let ended = try await DatabaseEdge.admin(
                "SELECT revoke_reason, revoked_by, sessions_terminated FROM \(replicas.first.table) WHERE lease_id = '\(lease.leaseID)'"
            )
            #expect(ended == "access-withdrawn|edge edge-1: no-matching-policy|1", "\(ended)")
            // Released again (the edge retrying): nothing left to do.
            #expect(try await replicas.first.release(own, tenant: "acme") == false)
        }
    }

    @Test(
        "a replica started again revokes nothing before its resources are loaded; a provider removed after is noticed")
    func noRevocationBeforeResourcesLoad() async throws {
        try await withReplicas { replicas in
            let lease = try await replicas.first.lease(
                Self.granted(), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            // As a process just started: the index is empty and not loaded yet.
            let index = replicas.context.resources.index(CredentialProviderSpec.self)
            index.update([], removing: [ResourceName(tenant: "acme", kind: .credentialProvider, name: "orders")])
            let revoker = Task { try await replicas.second.run() }
            defer { revoker.cancel() }
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await Self.asLease(lease, "SELECT 1") == "1", "not revoked while nothing is loaded")
            // Loaded, the provider unchanged: the lease stays.
            index.define(replicas.provider)
            replicas.context.resources.markLoaded()
            try await Task.sleep(for: .seconds(1.5))
            #expect(try await Self.asLease(lease, "SELECT 1") == "1", "the same provider: kept")
            // The provider goes: its lease ends (provider-changed).
            index.update([], removing: [ResourceName(tenant: "acme", kind: .credentialProvider, name: "orders")])
            let deadline = ContinuousClock.now + .seconds(10)
            var reason = ""
            while ContinuousClock.now < deadline {
                reason = try await DatabaseEdge.admin(
                    "SELECT coalesce(revoke_reason, '') FROM \(replicas.first.table) WHERE lease_id = '\(lease.leaseID)' AND revoked_at IS NOT NULL"
                )
                if !reason.isEmpty { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(reason == "provider-changed")
        }
    }

    @Test("the granting replica killed: the lease still ends on time, its open session terminated, by one replica only")
    func revokedOnTimeByOneReplica() async throws {
        try await withReplicas { replicas in
            // The first replica grants and is gone (its revoker never runs); a session is open under the lease.
            let lease = try await replicas.first.lease(
                Self.granted(ttl: 10), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            let session = try await session(as: lease)
            // Two replicas (a restarted one and another) revoke side by side.
            let revokers = [
                PostgresLeases(
                    postgres: replicas.first.postgres,
                    schema: SchemaName(String(replicas.first.table.split(separator: ".")[0])),
                    keyring: replicas.first.keyring, context: replicas.context),
                replicas.second,
            ]
            let started = Date()
            let revoked = try await withThrowingTaskGroup(of: Int.self) { group in
                for revoker in revokers {
                    group.addTask {
                        var count = 0
                        while Date() < started.addingTimeInterval(14) {
                            count += try await revoker.revokeDue()
                            try await Task.sleep(for: .milliseconds(200))
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(revoked == 1, "exactly one revocation")
            #expect(session.isClosed, "the session was terminated")
            try? await session.close()
            #expect(
                try await DatabaseEdge.admin("SELECT count(*) FROM pg_roles WHERE rolname = '\(lease.role)'") == "0")
            let ended = try await DatabaseEdge.admin(
                "SELECT revoke_reason, sessions_terminated, extract(epoch FROM revoked_at - expires_at) < 2 FROM \(replicas.first.table) WHERE lease_id = '\(lease.leaseID)'"
            )
            #expect(ended == "expired|1|t", "\(ended)")
        }
    }

    @Test("a role named like a lease that no lease has (a lost row) is dropped; a young one or an open lease's is kept")
    func orphans() async throws {
        try await withReplicas { replicas in
            let open = try await replicas.first.lease(
                Self.granted(), tenant: "acme", provider: replicas.provider, spec: replicas.spec)
            let old = PostgresRoleAdministrator.role(
                forLease: "lease-" + UUIDv7.generate(at: Date().addingTimeInterval(-600)))
            let young = PostgresRoleAdministrator.role(forLease: "lease-" + UUIDv7.generate())
            try await DatabaseEdge.admin(
                "SET ROLE sigil_test_lease_admin; CREATE ROLE \(old) LOGIN; CREATE ROLE \(young) LOGIN")
            try await replicas.second.dropOrphans()
            let left = try await DatabaseEdge.admin(
                "SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('\(old)', '\(young)', '\(open.role)')"
            )
            #expect(left == [young, open.role].sorted().joined(separator: ","), "\(left)")
            try await DatabaseEdge.admin("DROP ROLE \(young)")
            #expect(try await replicas.first.requestRevocation(tenant: "acme", leaseID: open.leaseID, by: "test"))
        }
    }
}
