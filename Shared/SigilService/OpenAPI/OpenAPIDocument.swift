import Foundation
import SigilEvents

/// The OpenAPI 3.1 document a service serves at `/openapi.yaml`, generated from the operations its controllers
/// declare and the schemas of its resource kinds (`SpecSchema`), so the document cannot drift from the code.
/// `sigil openapi` writes it to `Services/<service>/openapi.yaml`, where a unit test keeps it current.
public enum OpenAPIDocument {
    public static func render(
        title: String, version: String, description: String, paths: APIPaths, schemas: [String: JSONValue] = [:]
    ) -> String {
        var allPaths = operationsPaths
        allPaths.merge(paths) { shared, _ in shared }
        let document: JSONValue = [
            "openapi": "3.1.0",
            "info": [
                "title": .string(title), "version": .string(version),
                "description": .string(
                    description
                        + " Every refusal is an RFC 9457 problem document; a method a path does not serve is answered"
                        + " 405 with an Allow header."),
            ],
            "security": [["bearer": []]],
            "paths": .object(
                allPaths.mapValues { methods in .object(methods.mapValues(\.document)) }),
            "components": [
                "securitySchemes": ["bearer": ["type": "http", "scheme": "bearer"]],
                "responses": .object(sharedResponses),
                "schemas": .object(sharedSchemas.merging(schemas) { shared, _ in shared }),
            ],
        ]
        return document.yaml
    }

    static let operationsPaths: APIPaths = [
        "/healthz": [
            "get": APIOperation(
                "Liveness", open: true, responses: [200: APIResponse.json("Alive.", APIResponse.ref("Status"))])
        ],
        "/readyz": [
            "get": APIOperation(
                "Readiness (start-up done, Kafka and PostgreSQL reachable)", open: true,
                responses: [
                    200: APIResponse.json("Ready.", APIResponse.ref("Readiness")),
                    503: APIResponse.json("Not ready.", APIResponse.ref("Readiness")),
                ])
        ],
        "/metrics": [
            "get": APIOperation(
                "Prometheus metrics", open: true,
                responses: [
                    200: [
                        "description": "Metrics in the Prometheus text format.",
                        "content": ["text/plain": ["schema": ["type": "string"]]],
                    ]
                ])
        ],
        "/openapi.yaml": [
            "get": APIOperation(
                "This document", open: true,
                responses: [
                    200: [
                        "description": "The OpenAPI document.",
                        "content": ["application/yaml": ["schema": ["type": "string"]]],
                    ]
                ])
        ],
        "/v1/whoami": [
            "get": APIOperation(
                "The tenant and role of the presented token",
                responses: [
                    200: APIResponse.json("The principal.", APIResponse.ref("Principal")),
                    401: APIResponse.shared("Unauthorized"),
                ])
        ],
    ]

    static let sharedResponses: [String: JSONValue] = [
        "Unauthorized": APIResponse.problem("No token, or one this service does not know."),
        "Forbidden": APIResponse.problem("The token's role may not do this."),
        "NotFound": APIResponse.problem("No such resource in the token's tenant."),
        "MethodNotAllowed": APIResponse.problem("The path does not serve this method; `Allow` lists those it does."),
        "Conflict": APIResponse.problem(
            "A stale resourceVersion, a duplicate of another resource, or a resource others still name."),
        "Invalid": APIResponse.problem("The document is not valid; `field` names the field at fault."),
        "Malformed": APIResponse.problem("The body is not JSON."),
        "TooLarge": APIResponse.problem("The body is larger than the service accepts."),
        "Unavailable": APIResponse.problem("A dependency (Kafka, PostgreSQL) is unreachable; nothing was changed."),
    ]

    static let sharedSchemas: [String: JSONValue] = [
        "Problem": [
            "type": "object", "required": ["type", "title", "status", "detail"],
            "properties": [
                "type": ["type": "string", "description": "Stable problem type, urn:sigil:problem:<slug>"],
                "title": ["type": "string"],
                "status": ["type": "integer"],
                "detail": ["type": "string"],
                "field": ["type": "string", "description": "The field at fault in an invalid document."],
                "stage": ["type": "string"],
                "reason": ["type": "string"],
            ],
        ],
        "Status": ["type": "object", "properties": ["status": ["type": "string"]]],
        "Readiness": [
            "type": "object",
            "properties": [
                "ready": ["type": "boolean"],
                "checks": [
                    "type": "object",
                    "additionalProperties": ["type": "string", "enum": ["ok", "pending", "unreachable"]],
                ],
            ],
        ],
        "Principal": [
            "type": "object", "required": ["tenant", "role", "tokenName"],
            "properties": [
                "tenant": ["type": "string"],
                "role": ["type": "string", "enum": .array(AdminRole.allCases.map { .string($0.rawValue) })],
                "tokenName": ["type": "string"],
            ],
        ],
    ]
}
