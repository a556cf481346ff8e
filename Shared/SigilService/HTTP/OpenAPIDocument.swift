import Foundation

/// The OpenAPI 3.1 document a service serves at `/openapi.yaml`: the routes every service shares, plus the
/// service's own admin paths and schemas (YAML fragments indented for `paths:` and `components.schemas:`).
public enum OpenAPIDocument {
    public static func render(
        title: String, version: String, description: String, paths: String = "", schemas: String = ""
    ) -> String {
        """
        openapi: 3.1.0
        info:
          title: \(title)
          version: \(version)
          description: \(quoted(description))
        security:
          - bearer: []
        paths:
          /healthz:
            get:
              summary: Liveness
              security: []
              responses:
                "200": {description: The process is alive.}
          /readyz:
            get:
              summary: Readiness (start-up done, Kafka and PostgreSQL reachable)
              security: []
              responses:
                "200": {description: Ready., content: {application/json: {schema: {$ref: "#/components/schemas/Readiness"}}}}
                "503": {description: Not ready., content: {application/json: {schema: {$ref: "#/components/schemas/Readiness"}}}}
          /metrics:
            get:
              summary: Prometheus metrics
              security: []
              responses:
                "200": {description: Metrics in the Prometheus text format., content: {text/plain: {schema: {type: string}}}}
          /openapi.yaml:
            get:
              summary: This document
              security: []
              responses:
                "200": {description: OpenAPI document., content: {application/yaml: {schema: {type: string}}}}
          /v1/whoami:
            get:
              summary: The tenant and role of the presented admin token
              responses:
                "200": {description: The principal., content: {application/json: {schema: {$ref: "#/components/schemas/Principal"}}}}
                "401": {$ref: "#/components/responses/Unauthorized"}
        \(paths)
        components:
          securitySchemes:
            bearer: {type: http, scheme: bearer}
          responses:
            Unauthorized:
              description: No or unknown bearer token.
              content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
            Forbidden:
              description: The token's role may not do this.
              content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}
          schemas:
            Problem:
              type: object
              required: [type, title, status, detail]
              properties:
                type: {type: string, description: "Stable problem type, urn:sigil:problem:<slug>"}
                title: {type: string}
                status: {type: integer}
                detail: {type: string}
                field: {type: string, description: The field at fault in an invalid document.}
            Readiness:
              type: object
              properties:
                ready: {type: boolean}
                checks: {type: object, additionalProperties: {type: string, enum: [ok, pending, unreachable]}}
            Resource:
              type: object
              properties:
                kind: {type: string}
                name: {type: string}
                spec: {type: object}
            Principal:
              type: object
              properties:
                tenant: {type: string}
                role: {type: string, enum: [admin, auditor]}
                tokenName: {type: string}
        \(schemas)
        """
    }

    /// A YAML double-quoted scalar (JSON string syntax is valid YAML).
    static func quoted(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
