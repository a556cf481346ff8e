import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-attest`: verifies workload evidence against trust providers and identifies the client workload.
    static let identityAttestation = SigilServiceDefinition(
        executable: "sigil-attest",
        component: "attest",
        summary: "Identity attestation: verifies workload evidence and identifies client workloads.",
        defaultPort: 7101,
        schema: SchemaName("attest"),
        migrations: [
            Migration(version: 1, name: "trust providers and client workloads") { schema in
                [
                    """
                    CREATE TABLE \(unescaped: schema.rawValue).trust_providers (
                        tenant text NOT NULL,
                        name text NOT NULL,
                        spec jsonb NOT NULL,
                        defined_at timestamptz NOT NULL,
                        PRIMARY KEY (tenant, name))
                    """,
                    """
                    CREATE TABLE \(unescaped: schema.rawValue).client_workloads (
                        tenant text NOT NULL,
                        name text NOT NULL,
                        spec jsonb NOT NULL,
                        defined_at timestamptz NOT NULL,
                        PRIMARY KEY (tenant, name))
                    """,
                ]
            }
        ],
        topics: [.config, .accessRequests, .accessAttested, .accessReplies, .deadletter]
    )
}
