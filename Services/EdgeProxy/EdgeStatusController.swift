import Hummingbird
import SigilEvents
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
                // Not 403: a token of another tenant learns nothing of this edge.
                throw ProblemDetails.notFound("no edge of this tenant here")
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
        group.refuseOtherMethods("/edge/status", allowed: [.get])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/edge/status": [
            "get": APIOperation(
                "What this edge knows of the control plane (admin, auditor, or the edge's own token)",
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("Edge status.", APIResponse.ref("EdgeStatus")),
                    404: APIResponse.shared("NotFound"),
                ]) { first, _ in first })
        ]
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "EdgeStatus": [
            "type": "object",
            "required": ["edgeID", "tenant", "serverWorkloads", "credentialsHeld", "proxyListensOnLoopback"],
            "properties": [
                "edgeID": ["type": "string"], "tenant": ["type": "string"],
                "attestationKey": ["type": ["string", "null"]], "replyPartition": ["type": ["integer", "null"]],
                "serverWorkloads": ["type": "array", "items": ["type": "string"]],
                "credentialsHeld": ["type": "integer"], "proxyListensOnLoopback": ["type": "boolean"],
            ],
        ]
    ]
}
