import SigilService

extension SigilServiceDefinition {
    /// `sigil-edge`: the sidecar beside a workload. Nothing durable: no schema, no migrations.
    static let edgeProxy = SigilServiceDefinition(
        executable: "sigil-edge",
        component: "edge",
        summary: "Edge proxy: gathers workload evidence, obtains credentials and injects them into outgoing requests.",
        defaultPort: 7105,
        schema: nil,
        topics: [.config, .accessRequests, .accessReplies, .edgeActivity]
    )
}
