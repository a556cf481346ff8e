import SigilEvents
import SigilGeography
import SigilPolicy
import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-policy`: matches client and server workloads to an access policy and decides.
    static var policyDecision: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
            executable: "sigil-policy",
            component: "policy",
            summary: "Policy decision: matches client and server workloads to access policies and decides.",
            defaultPort: 7102,
            schema: SchemaName("policy"),
            migrations: [
                Migration(version: 1, name: "server workloads, access policies, posture signals") { schema in
                    [
                        ResourceKind.serverWorkload.createTable(in: schema),
                        ResourceKind.accessPolicy.createTable(in: schema),
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).posture_signals (
                            tenant text NOT NULL,
                            subject text NOT NULL,
                            signal text NOT NULL,
                            value jsonb NOT NULL,
                            observed_at timestamptz NOT NULL,
                            PRIMARY KEY (tenant, subject, signal))
                        """,
                    ]
                },
                .resources(version: 2, replacing: [.serverWorkload, .accessPolicy]),
                Migration(version: 3, name: "posture feeds") { schema in
                    [ResourceKind.postureFeed.createTable(in: schema)]
                },
            ],
            topics: [.config, .accessAttested, .accessDecisions, .accessReplies, .posture, .deadletter]
        )
        definition.resources = [
            ResourceDefinition(ServerWorkloadSpec.self), ResourceDefinition(AccessPolicySpec.self),
            ResourceDefinition(PostureFeedSpec.self),
        ]
        // One posture board and one compiled engine per process, shared by the decisions and the explain route.
        let posture = PostureBoard()
        let engine = ServicePart { context in
            PolicyEngine(context.resources, geography: try GeographySetting.locator(context), posture: posture)
        }
        definition.routes = { group, context in
            guard let engine = try? engine.get(context) else { return }
            ExplainController(engine: engine).add(to: group, resources: context.resources)
        }
        definition.openAPIPaths = ExplainController.openAPIPaths
        definition.openAPISchemas = ExplainController.openAPISchemas
        definition.workers = { context in
            let decider = AccessDecider(context: context, engine: try engine.get(context))
            return [
                EventWorker(name: "decisions", topics: [.accessAttested], context: context) { event, payload, logger in
                    try await decider.handle(event, payload, logger: logger)
                },
                PostureReader(context: context, board: posture),
                PostureCollector(
                    context: context, board: posture, feeds: context.resources.index(PostureFeedSpec.self)),
            ]
        }
        return definition
    }
}
