import SigilEvents

extension ResourceDefinition {
    /// The kind's operations (list, read, create or replace, delete) for the OpenAPI document.
    var apiPaths: APIPaths {
        let kind = self.kind.rawValue
        let document = APIResponse.ref(kind)
        let name: JSONValue = [
            "name": "name", "in": "path", "required": true,
            "schema": ["type": "string", "pattern": .string(SpecSchema.dnsLabel.regex)],
        ]
        let dryRun = APIOperation.query(
            "dryRun", ["type": "boolean", "default": false], "Admit and answer what would change, without writing.")
        let ifMatch: JSONValue = [
            "name": "If-Match", "in": "header", "schema": ["type": "string", "maxLength": 66],
            "description": "A resourceVersion (as the ETag gives it): the write applies only over that version.",
        ]
        let assume: JSONValue = [
            "name": "Sigil-Dry-Run-Set", "in": "header", "schema": ["type": "string", "maxLength": 65_536],
            "description":
                "On a dry run: `Kind/name, ...`, the rest of a set being applied (counted as existing) or deleted (counted as gone).",
        ]
        let written: JSONValue = [
            "ETag": ["description": "The resourceVersion, quoted.", "schema": ["type": "string"]],
            "Sigil-Change": [
                "description": "What the write did (or, on a dry run, would do).",
                "schema": ["type": "string", "enum": ["created", "updated", "unchanged", "deleted"]],
            ],
        ]
        let writeRefusals: [Int: JSONValue] = APIResponse.authenticated.merging([
            409: APIResponse.shared("Conflict"), 503: APIResponse.shared("Unavailable"),
        ]) { first, _ in first }
        return [
            "/v1/\(path)": [
                "get": APIOperation(
                    "List the \(kind) resources of the token's tenant",
                    parameters: ResourceListPage.openAPIParameters,
                    responses: APIResponse.authenticated.merging([
                        200: APIResponse.json("The resources, by name.", APIResponse.ref("\(kind)List")),
                        422: APIResponse.shared("Invalid"),
                    ]) { first, _ in first })
            ],
            "/v1/\(path)/{name}": [
                "get": APIOperation(
                    "Read one \(kind)", parameters: [name],
                    responses: APIResponse.authenticated.merging([
                        200: APIResponse.json("The resource.", document, headers: ["ETag": written["ETag"]!]),
                        404: APIResponse.shared("NotFound"),
                    ]) { first, _ in first }),
                "put": APIOperation(
                    "Create or replace a \(kind) (admin role). Re-sending what is stored changes nothing.",
                    parameters: [name, dryRun, ifMatch, assume], requestBody: document,
                    responses: writeRefusals.merging([
                        200: APIResponse.json("Replaced, or unchanged.", document, headers: written),
                        201: APIResponse.json("Created.", document, headers: written),
                        202: APIResponse.json(
                            "Written to the configuration log; this replica does not show it yet.", document,
                            headers: written),
                        400: APIResponse.shared("Malformed"),
                        413: APIResponse.shared("TooLarge"),
                        422: APIResponse.shared("Invalid"),
                    ]) { first, _ in first }),
                "delete": APIOperation(
                    "Delete a \(kind) (admin role); refused while other resources name it",
                    parameters: [name, dryRun, ifMatch, assume],
                    responses: writeRefusals.merging([
                        204: APIResponse.empty("Deleted (or, on a dry run, would be).", headers: written),
                        404: APIResponse.shared("NotFound"),
                        422: APIResponse.shared("Invalid"),
                    ]) { first, _ in first }),
            ],
        ]
    }

    /// The kind's document and list schemas.
    var apiSchemas: [String: JSONValue] {
        let kind = self.kind.rawValue
        return [
            kind: ResourceDocumentSchema.document(self).jsonSchema,
            "\(kind)List": [
                "type": "object", "required": ["items"],
                "properties": [
                    "apiVersion": ["type": "string"], "kind": ["type": "string"],
                    "metadata": [
                        "type": "object",
                        "properties": [
                            "continue": [
                                "type": "string",
                                "description": "Present when more resources follow: pass it as `continue`.",
                            ]
                        ],
                    ],
                    "items": ["type": "array", "items": APIResponse.ref(kind)],
                ],
            ],
        ]
    }
}
