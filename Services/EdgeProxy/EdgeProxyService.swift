import SigilService

extension SigilServiceDefinition {
    /// `sigil-edge`: the sidecar beside a workload. Nothing durable: no schema, no migrations.
    static var edgeProxy: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
            executable: "sigil-edge",
            component: "edge",
            summary:
                "Edge proxy: gathers workload evidence, obtains credentials and injects them into outgoing requests.",
            defaultPort: 7105,
            schema: nil,
            topics: [.config, .accessRequests, .accessReplies, .edgeActivity]
        )
        let parts = ServicePart { context in try EdgeParts(context) }
        definition.workers = { context in
            let parts = try parts.get(context)
            return [
                parts.view, parts.replies,
                ProxyServer(context: context, edge: parts.edge, access: parts.access, view: parts.view),
            ]
        }
        definition.routes = { group, context in
            guard let parts = try? parts.get(context) else { return }
            EdgeStatusController(parts: parts).add(to: group)
        }
        definition.openAPIPaths = EdgeStatusController.openAPIPaths
        return definition
    }
}

/// The edge's long-lived parts, shared by its workers and its admin routes.
struct EdgeParts: Sendable {
    let edge: EdgeConfiguration
    let view: ControlPlaneView
    let replies: ReplyListener
    let access: AccessClient

    init(_ context: ServiceContext) throws {
        edge = try EdgeConfiguration(context.configuration)
        view = ControlPlaneView(context: context, tenant: edge.tenant)
        replies = ReplyListener(context: context, edge: edge)
        access = AccessClient(context: context, edge: edge, view: view, replies: replies, cache: CredentialCache())
    }
}
