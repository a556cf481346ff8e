import SigilEvents

extension ResourceSetController {
    /// `POST /v1/apply` and `POST /v1/delete` for the OpenAPI document of a service owning these kinds.
    static func apiPaths(_ definitions: [ResourceDefinition]) -> APIPaths {
        let dryRun = APIOperation.query(
            "dryRun", ["type": "boolean", "default": false], "Admit and answer what would change, without writing.")
        let assume: JSONValue = [
            "name": "Sigil-Dry-Run-Set", "in": "header", "schema": ["type": "string", "maxLength": 65_536],
            "description": .string(
                "On a dry run: `Kind/name, ...`, resources of the same apply at other services (counted as existing), "
                    + "or of the same delete (counted as gone)."),
        ]
        let refusals: [Int: JSONValue] = APIResponse.authenticated.merging([
            400: APIResponse.shared("Malformed"),
            413: APIResponse.shared("TooLarge"),
            422: APIResponse.shared("Invalid"),
            503: APIResponse.shared("Unavailable"),
        ]) { first, _ in first }
        return [
            "/v1/\(path)": [
                "post": APIOperation(
                    "Create or replace a set of resources (admin role), written together; each document's outcome",
                    parameters: [dryRun, assume], requestBody: APIResponse.ref("ApplyList"),
                    responses: refusals.merging([
                        200: APIResponse.json(
                            "Each document's outcome, in the order sent: admitted (and written unless a dry run) or "
                                + "refused, with the status its PUT would have had.",
                            APIResponse.ref("ApplyResult"))
                    ]) { first, _ in first })
            ],
            "/v1/\(deletionPath)": [
                "post": APIOperation(
                    "Delete a set of resources (admin role), written together; each resource's outcome",
                    parameters: [dryRun, assume], requestBody: APIResponse.ref("DeleteList"),
                    responses: refusals.merging([
                        200: APIResponse.json(
                            "Each resource's outcome, in the order sent: deleted (unless a dry run) or refused, with "
                                + "the status its DELETE would have had.",
                            APIResponse.ref("ApplyResult"))
                    ]) { first, _ in first })
            ],
        ]
    }

    static func apiSchemas(_ definitions: [ResourceDefinition]) -> [String: JSONValue] {
        [
            "ApplyList": schema(definitions).jsonSchema,
            "DeleteList": deletionSchema(definitions).jsonSchema,
            "ApplyResult": [
                "type": "object", "required": ["items"],
                "properties": [
                    "apiVersion": ["type": "string"], "kind": ["type": "string", "enum": ["ApplyResult"]],
                    "items": [
                        "type": "array",
                        "items": [
                            "type": "object", "required": ["kind", "name", "status"],
                            "properties": [
                                "kind": ["type": "string"], "name": ["type": "string"],
                                "status": [
                                    "type": "integer", "description": "What a PUT of the document would answer.",
                                ],
                                "change": [
                                    "type": "string", "enum": ["created", "updated", "unchanged", "deleted"],
                                ],
                                "resourceVersion": ["type": "string"],
                                "problem": APIResponse.ref("Problem"),
                            ],
                        ],
                    ],
                ],
            ],
        ]
    }
}
