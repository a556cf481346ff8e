import Hummingbird
import SigilService

/// `GET /v1/edge/status`: what this edge knows of the control plane (attestation key, reply partition, server
/// workloads), for operators and for `sigil demo` to know the edge is ready for a workload.
struct EdgeStatusController {
    let parts: EdgeParts

    struct Status: Encodable {
        let edgeID: String
        let tenant: String
        let attestationKey: String?
        let replyPartition: Int32?
        let serverWorkloads: [String]
        let credentialsHeld: Int
        let proxyListensOnLoopback: Bool
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        group.get("/edge/status") { _, context in
            let principal = try context.requirePrincipal([.admin, .auditor, .edge])
            guard principal.tenant == parts.edge.tenant else {
                throw ProblemDetails.forbidden("this edge serves another tenant")
            }
            let status = Status(
                edgeID: parts.edge.edgeID,
                tenant: parts.edge.tenant,
                attestationKey: parts.view.currentAttestationKey?.keyID,
                replyPartition: parts.replies.replyPartition,
                serverWorkloads: parts.view.serverWorkloads.names,
                credentialsHeld: parts.credentials.cache.count,
                proxyListensOnLoopback: parts.edge.listensOnLoopback
            )
            return OperationsController.json(.ok, status)
        }
    }

    static let openAPIPaths = """
          /v1/edge/status:
            get:
              summary: What this edge knows of the control plane
              responses:
                "200": {description: Edge status., content: {application/json: {schema: {type: object}}}}
                "401": {$ref: "#/components/responses/Unauthorized"}
        """
}
