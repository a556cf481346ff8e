import Foundation
import ServiceLifecycle
import SigilEvents
import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-issue`: obtains or mints credentials, seals them to the requesting edge, tracks leases.
    static var credentialIssuance: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
            executable: "sigil-issue",
            component: "issue",
            summary: "Credential issuance: obtains credentials, seals them to the requesting edge, tracks leases.",
            defaultPort: 7103,
            schema: SchemaName("issue"),
            migrations: [
                Migration(version: 1, name: "credential providers, tenant data keys, leases") { schema in
                    [
                        ResourceKind.credentialProvider.createTable(in: schema),
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).tenant_data_keys (
                            tenant text NOT NULL,
                            key_id text NOT NULL,
                            kek_id text NOT NULL,
                            wrapped_key text NOT NULL,
                            created_at timestamptz NOT NULL,
                            PRIMARY KEY (tenant, key_id))
                        """,
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).leases (
                            tenant text NOT NULL,
                            lease_id text NOT NULL,
                            request_id text NOT NULL,
                            credential_provider text NOT NULL,
                            client_workload text NOT NULL,
                            expires_at timestamptz NOT NULL,
                            revoked_at timestamptz,
                            PRIMARY KEY (tenant, lease_id))
                        """,
                    ]
                },
                .resources(version: 2, replacing: [.credentialProvider]),
                Migration(version: 3, name: "generated RS256 signing keys") { schema in
                    [
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).tenant_signing_keys (
                            tenant text NOT NULL,
                            kid text NOT NULL,
                            period bigint NOT NULL,
                            data_key_id text NOT NULL,
                            private_key_encrypted text NOT NULL,
                            created_at timestamptz NOT NULL,
                            PRIMARY KEY (tenant, kid))
                        """
                    ]
                },
                Migration(version: 4, name: "postgres-dynamic leases") { schema in
                    [
                        """
                        ALTER TABLE \(unescaped: schema.rawValue).leases
                            ADD COLUMN lease_key text, ADD COLUMN role text, ADD COLUMN edge_id text,
                            ADD COLUMN reply_partition int NOT NULL DEFAULT 0, ADD COLUMN server_workload text,
                            ADD COLUMN access_policy text, ADD COLUMN database text, ADD COLUMN granted_at timestamptz,
                            ADD COLUMN provider_version text, ADD COLUMN provider_spec jsonb,
                            ADD COLUMN revoke_requested_at timestamptz, ADD COLUMN revoke_reason text,
                            ADD COLUMN revoked_by text, ADD COLUMN sessions_terminated int
                        """,
                        """
                        CREATE INDEX leases_open ON \(unescaped: schema.rawValue).leases (expires_at)
                            WHERE revoked_at IS NULL
                        """,
                        """
                        CREATE INDEX leases_by_key ON \(unescaped: schema.rawValue).leases (tenant, lease_key)
                            WHERE revoked_at IS NULL
                        """,
                    ]
                },
            ],
            topics: [.config, .accessDecisions, .accessReplies, .accessLeases, .deadletter]
        )
        let keyring = IssuanceParts.keyring
        definition.resources = [ResourceDefinition(CredentialProviderSpec.self)]
        definition.projections = { context in
            guard let keyring = try? keyring.get(context), let signing = try? IssuanceParts.signing.get(context),
                let postgres = context.postgres
            else { return [] }
            return [
                ProjectionSubscription(
                    projection: TenantKeyProjection(
                        schema: SchemaName("issue"), keyring: keyring, postgres: postgres, stored: signing.stored),
                    topics: [.config]
                )
            ]
        }
        definition.openAPIPaths = JWKSController.openAPIPaths.merging(TenantDeletionController.openAPIPaths) {
            first, _ in first
        }.merging(LeaseController.openAPIPaths) { first, _ in first }
        definition.openAPISchemas = TenantDeletionController.openAPISchemas.merging(LeaseController.openAPISchemas) {
            first, _ in first
        }
        definition.routes = { group, context in
            guard let keyring = try? keyring.get(context), let postgres = context.postgres else { return }
            TenantDeletionController(
                keyring: keyring, schema: SchemaName("issue"), postgres: postgres, context: context
            )
            .add(to: group)
            if let leases = try? IssuanceParts.leases.get(context) { LeaseController(leases: leases).add(to: group) }
        }
        definition.publicRoutes = { router, context in
            guard let signing = try? IssuanceParts.signing.get(context),
                let authority = try? IssuanceParts.authority.get(context)
            else { return }
            JWKSController(
                signing: signing, authority: authority, publicURL: IssuanceParts.publicURL(context.configuration)
            ).add(to: router)
        }
        definition.workers = { context in
            let issuer = CredentialIssuer(
                keyring: try keyring.get(context), signing: try IssuanceParts.signing.get(context),
                authority: try IssuanceParts.authority.get(context),
                publicURL: IssuanceParts.publicURL(context.configuration), oauth2: OAuth2TokenSource(),
                sts: STSWebIdentitySource(), leases: try? IssuanceParts.leases.get(context),
                context: context)
            var workers: [any Service] = [
                EventWorker(name: "issuance", topics: [.accessDecisions], context: context) { event, payload, logger in
                    try await issuer.handle(event, payload, logger: logger)
                }
            ]
            if let leases = try? IssuanceParts.leases.get(context) {
                workers.append(leases)
                // Edges end the leases whose access was withdrawn.
                workers.append(
                    EventWorker(name: "lease-releases", topics: [.accessLeases], context: context) {
                        event, payload, _ in
                        guard let released = payload as? LeaseReleased else { return }
                        try await leases.release(released, tenant: event.tenant)
                    })
            }
            if let postgres = context.postgres {
                workers.append(
                    DataKeyRewrap(
                        keyring: try keyring.get(context), schema: SchemaName("issue"), postgres: postgres,
                        context: context))
            }
            return workers
        }
        return definition
    }
}

/// The issuance service's long-lived parts, shared by admission, projections and workers.
enum IssuanceParts {
    /// One keyring per process: admission encrypts with it, the projection fills it, the issuer decrypts.
    static let keyring = ServicePart { context in
        try TenantKeyring.load(context.configuration)
    }

    /// The tenants' JWT signing keys, rotating every `SIGIL_ISSUE_SIGNING_KEY_DAYS` (30).
    static let signing = ServicePart { context in
        let days = try context.configuration.source.int("SIGIL_ISSUE_SIGNING_KEY_DAYS", default: 30, in: 1...365)
        return TenantSigningKeys(keyring: try keyring.get(context), period: TimeInterval(days) * 86_400)
    }

    /// `postgres-dynamic` leases, in `issue.leases` (needs the service's database).
    static let leases = ServicePart { context in
        guard let postgres = context.postgres else {
            throw ConfigurationError(key: "SIGIL_POSTGRES_URL", expected: "set: leases are kept in PostgreSQL")
        }
        return PostgresLeases(
            postgres: postgres, schema: SchemaName("issue"), keyring: try keyring.get(context), context: context)
    }

    /// The tenants' certificate authorities for `x509` credentials (one per data key and signing period).
    static let authority = ServicePart { context in TenantCertificateAuthority(signing: try signing.get(context)) }

    /// `SIGIL_ISSUE_PUBLIC_URL`: where third parties reach this service's JWKS (default: its own address).
    static func publicURL(_ configuration: ServiceConfiguration) -> String {
        let url = configuration.source.string(
            "SIGIL_ISSUE_PUBLIC_URL", default: "http://\(configuration.httpHost):\(configuration.httpPort)")
        return url.hasSuffix("/") ? String(url.dropLast()) : url
    }
}
