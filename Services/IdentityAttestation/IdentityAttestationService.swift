import SigilAttestation
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
                        ResourceKind.trustProvider.createTable(in: schema),
                        ResourceKind.clientWorkload.createTable(in: schema),
                    ]
                },
                .resources(version: 2, replacing: [.trustProvider, .clientWorkload]),
                RequestLedger.migration,
                JoinTokenStore.migration,
            ],
            topics: [.config, .accessRequests, .accessAttested, .accessReplies, .deadletter]
        )
        definition.resources = [
            ResourceDefinition(TrustProviderSpec.self), ResourceDefinition(ClientWorkloadSpec.self),
        ]
        definition.workers = { context in
            let schedule = try AttestationKeySchedule.load(context.configuration)
            let handler = AccessRequestHandler(
                keys: schedule, context: context,
                attestor: Attestor(
                    jwt: JWTVerifier(
                        keyFileDirectory: try context.configuration.source.directory(KeyFileDirectory.variable)),
                    joinTokens: joinTokens(context)),
                ledger: context.postgres.map { RequestLedger(schema: SchemaName("attest"), postgres: $0) })
            return [
                AttestationKeyPublisher(schedule: schedule, context: context),
                EventWorker(name: "access-requests", topics: [.accessRequests], context: context) {
                    event, payload, logger in
                    try await handler.handle(event, payload, logger: logger)
                },
            ]
        }
        definition.routes = { group, context in
            guard let store = joinTokens(context) else { return }
            JoinTokenController(store: store, context: context).add(to: group)
        }
        definition.openAPIPaths = JoinTokenController.openAPIPaths
        definition.openAPISchemas = JoinTokenController.openAPISchemas
        return definition
    }

    /// Join tokens live in PostgreSQL; without it (unit tests) there are none.
    private static func joinTokens(_ context: ServiceContext) -> JoinTokenStore? {
        context.postgres.map { JoinTokenStore(schema: SchemaName("attest"), postgres: $0, logger: context.logger) }
    }
}
