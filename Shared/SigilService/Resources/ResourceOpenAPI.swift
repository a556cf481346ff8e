/// The OpenAPI paths of resource admin APIs (list, get, put, delete), as a fragment for `OpenAPIDocument.render`.
public enum ResourceOpenAPI {
    public static func paths(for resources: [(path: String, kind: String)]) -> String {
        resources.map { resource in
            """
              /v1/\(resource.path):
                get:
                  summary: List \(resource.kind) resources of the token's tenant
                  responses:
                    "200": {description: The resources., content: {application/json: {schema: {type: object, properties: {items: {type: array, items: {$ref: "#/components/schemas/Resource"}}}}}}}
                    "401": {$ref: "#/components/responses/Unauthorized"}
              /v1/\(resource.path)/{name}:
                parameters:
                  - {name: name, in: path, required: true, schema: {type: string, pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}}
                get:
                  summary: Read one \(resource.kind)
                  responses:
                    "200": {description: The resource., content: {application/json: {schema: {$ref: "#/components/schemas/Resource"}}}}
                    "404": {description: No such resource., content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
                put:
                  summary: Create or replace a \(resource.kind) (admin role); the body is its spec
                  requestBody: {required: true, content: {application/json: {schema: {type: object}}}}
                  responses:
                    "200": {description: Accepted and published., content: {application/json: {schema: {$ref: "#/components/schemas/Resource"}}}}
                    "400": {description: The body is not JSON., content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
                    "403": {$ref: "#/components/responses/Forbidden"}
                    "422": {description: Invalid spec; `field` names the field., content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
                delete:
                  summary: Remove a \(resource.kind) (admin role)
                  responses:
                    "204": {description: Removed.}
                    "404": {description: No such resource., content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
            """
        }.joined(separator: "\n")
    }
}
