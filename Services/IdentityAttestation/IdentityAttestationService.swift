import SigilEvents
import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-attest`: verifies workload evidence against trust providers and identifies the client workload.
    static var identityAttestation: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
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
        definition.resources = { _ in
            [
                ResourceDefinition(kind: .trustProvider, path: "trust-providers", table: "trust_providers") {
                    spec, _, _ in
                    try await TrustProvider.validate(spec)
                },
                ResourceDefinition(kind: .clientWorkload, path: "client-workloads", table: "client_workloads") {
                    spec, _, _ in
                    try ClientWorkload.validate(spec)
                },
            ]
        }
        definition.workers = { context in
            let key = try AttestationKey.load(context.configuration)
            let handler = AccessRequestHandler(key: key, context: context)
            return [
                AttestationKeyPublisher(key: key, context: context),
                EventWorker(name: "access-requests", topics: [.accessRequests], context: context) {
                    event, payload, logger in
                    try await handler.handle(event, payload, logger: logger)
                },
            ]
        }
        definition.openAPIPaths = ResourceOpenAPI.paths(for: [
            ("trust-providers", "TrustProvider"), ("client-workloads", "ClientWorkload"),
        ])
        return definition
    }
}
