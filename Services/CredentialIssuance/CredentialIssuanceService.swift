import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-issue`: obtains or mints credentials, seals them to the requesting edge, tracks leases.
    static let credentialIssuance = SigilServiceDefinition(
        executable: "sigil-issue",
        component: "issue",
        summary: "Credential issuance: obtains credentials, seals them to the requesting edge, tracks leases.",
        defaultPort: 7103,
        schema: SchemaName("issue"),
        migrations: [
            Migration(version: 1, name: "credential providers, tenant data keys, leases") { schema in
                [
                    """
                    CREATE TABLE \(unescaped: schema.rawValue).credential_providers (
                        tenant text NOT NULL,
                        name text NOT NULL,
                        spec jsonb NOT NULL,
                        defined_at timestamptz NOT NULL,
                        PRIMARY KEY (tenant, name))
                    """,
                    """
                    CREATE TABLE \(unescaped: schema.rawValue).tenant_data_keys (
                        tenant text NOT NULL,
                        key_id text NOT NULL,
                        kek_id text NOT NULL,
                        wrapped_key bytea NOT NULL,
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
            }
        ],
        topics: [.config, .accessDecisions, .accessReplies, .deadletter]
    )
}
