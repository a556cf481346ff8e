import SigilEvents
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
                }
            ],
            topics: [.config, .accessAttested, .accessDecisions, .accessReplies, .posture, .deadletter]
        )
        definition.resources = { _ in
            [
                ResourceDefinition(kind: .serverWorkload) {
                    spec, _, _ in
                    try ServerWorkloadSpec.validate(spec)
                },
                ResourceDefinition(kind: .accessPolicy) {
                    spec, _, _ in
                    try AccessPolicy.validate(spec)
                },
            ]
        }
        definition.workers = { context in
            let decider = AccessDecider(context: context)
            return [
                EventWorker(name: "decisions", topics: [.accessAttested], context: context) { event, payload, logger in
                    try await decider.handle(event, payload, logger: logger)
                }
            ]
        }
        definition.openAPIPaths = ResourceOpenAPI.paths(for: [
            ("server-workloads", "ServerWorkload"), ("access-policies", "AccessPolicy"),
        ])
        return definition
    }
}
