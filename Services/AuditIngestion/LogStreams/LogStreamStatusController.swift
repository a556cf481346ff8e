import Hummingbird
import PostgresNIO
import SigilEvents
import SigilProjection
import SigilService

/// `GET /v1/log-streams/{name}/status`: how a stream's delivery goes — records waiting, delivered, the last delivery
/// and the last error.
struct LogStreamStatusController {
    let schema: SchemaName
    let postgres: PostgresClient
    let context: ServiceContext

    func add(to group: RouterGroup<AdminRequestContext>) {
        let streams = context.resources.index(LogStreamSpec.self)
        group.get("/log-streams/:name/status") { _, context in
            let principal = try context.requirePrincipal()
            let name = try context.parameters.require("name")
            guard let stream = streams.get(tenant: principal.tenant, name: name) else {
                throw ProblemDetails.notFound("no LogStream named \(name)")
            }
            let progress = LogStreamProgress(
                stream, schema: schema, postgres: postgres, owner: self.context.configuration.instanceID)
            let status = try await progress.status(
                destination: stream.spec.destination.summary, format: stream.spec.format.rawValue,
                logger: context.logger)
            return OperationsController.json(.ok, status)
        }
        group.refuseOtherMethods("/log-streams/:name/status", allowed: [.get])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/log-streams/{name}/status": [
            "get": APIOperation(
                "How a log stream's delivery goes",
                parameters: [
                    ["name": "name", "in": "path", "required": true, "schema": ["type": "string", "maxLength": 63]]
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("The stream's delivery state.", APIResponse.ref("LogStreamStatus")),
                    404: APIResponse.shared("NotFound"),
                ]) { first, _ in first })
        ]
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "LogStreamStatus": [
            "type": "object",
            "required": ["name", "destination", "format", "lagRecords", "deliveredRecords", "consecutiveFailures"],
            "properties": [
                "name": ["type": "string"], "destination": ["type": "string"], "format": ["type": "string"],
                "deliveredBy": ["type": ["string", "null"], "description": "The audit replica delivering it."],
                "lagRecords": ["type": "integer", "description": "Committed records not yet delivered."],
                "deliveredRecords": ["type": "integer"],
                "lastDeliveryAt": ["type": ["string", "null"], "format": "date-time"],
                "lastError": ["type": ["string", "null"]],
                "lastErrorAt": ["type": ["string", "null"], "format": "date-time"],
                "consecutiveFailures": ["type": "integer"],
            ],
        ]
    ]
}
