import Foundation
import Hummingbird
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilProjection
import SigilService

/// `GET /v1/audit/events`: the tenant's audit log by time, filtered and paginated with an opaque cursor.
/// `GET /v1/audit/verify`: proves every chain of the tenant intact (optionally `against=checkpoints`: also against
/// the signed heads on `sigil.audit.checkpoints`); `POST /v1/audit/verify`: against checkpoints given in the body.
struct AuditQueryController {
    let schema: SchemaName
    let postgres: PostgresClient
    let context: ServiceContext

    static let maximumCheckpointBytes = 8 * 1024 * 1024

    var verifier: AuditVerifier {
        AuditVerifier(schema: schema, postgres: postgres, events: context.authentication?.verifier)
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        group.get("/audit/events") { request, context in
            let principal = try context.requirePrincipal()
            let filter = try AuditFilter(request.uri.queryParameters)
            let records = try await AuditQuery(schema: schema, postgres: postgres)
                .records(tenant: principal.tenant, filter: filter, logger: context.logger)
            struct Page: Encodable {
                let items: [AuditRecordDocument]
                let next: String?
            }
            let items = records.map(AuditRecordDocument.init)
            let next = records.count == filter.limit ? items.last?.cursor : nil
            return OperationsController.json(.ok, Page(items: items, next: next))
        }
        group.get("/audit/verify") { request, context in
            let principal = try context.requirePrincipal()
            var checkpoints: [AuditCheckpointed] = []
            switch request.uri.queryParameters["against"].map(String.init) {
            case nil: break
            case "checkpoints":
                checkpoints = try await AuditCheckpoints.read(tenant: principal.tenant, context: self.context)
            default:
                throw ProblemDetails.invalidField(
                    "against", "against must be 'checkpoints' (or POST the checkpoints to compare with)")
            }
            let report = try await verifier.verify(
                tenant: principal.tenant, checkpoints: checkpoints, logger: context.logger)
            return OperationsController.json(.ok, report)
        }
        group.post("/audit/verify") { request, context in
            let principal = try context.requirePrincipal()
            struct Body: Decodable { let checkpoints: [AuditCheckpointed] }
            let bytes: ByteBuffer
            do {
                bytes = try await request.body.collect(upTo: Self.maximumCheckpointBytes)
            } catch {
                throw ProblemDetails(
                    status: .contentTooLarge, slug: "document-too-large", title: "Document too large",
                    detail: "checkpoints to verify against are at most \(Self.maximumCheckpointBytes / 1024 / 1024) MiB"
                )
            }
            // Strict at the top: a misspelt field must not pass as "no checkpoints".
            guard case .object(let fields)? = try? EventJSON.decoder.decode(JSONValue.self, from: Data(buffer: bytes)),
                Set(fields.keys) == ["checkpoints"],
                let body = try? EventJSON.decoder.decode(Body.self, from: Data(buffer: bytes))
            else {
                throw ProblemDetails(
                    status: .badRequest, slug: "malformed-body", title: "Malformed body",
                    detail: "the body is not {\"checkpoints\": [AuditCheckpointed payloads]}")
            }
            let checkpoints = try AuditCheckpoints.verified(
                body.checkpoints, tenant: principal.tenant, verifier: self.context.authentication?.verifier)
            let report = try await verifier.verify(
                tenant: principal.tenant, checkpoints: checkpoints, logger: context.logger)
            return OperationsController.json(.ok, report)
        }
        group.refuseOtherMethods("/audit/events", allowed: [.get])
        group.refuseOtherMethods("/audit/verify", allowed: [.get, .post])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/audit/events": [
            "get": APIOperation(
                "The tenant's audit log, by time (then chain and sequence)",
                parameters: AuditFilter.openAPIParameters,
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "A page of records; `next` is the cursor of the next page.", APIResponse.ref("AuditPage")),
                    422: APIResponse.shared("Invalid"),
                ]) { first, _ in first })
        ],
        "/v1/audit/verify": [
            "get": APIOperation(
                "Prove every chain of the tenant intact",
                parameters: [
                    APIOperation.query(
                        "against", ["type": "string", "enum": ["checkpoints"]],
                        "Also compare with the signed heads on sigil.audit.checkpoints.")
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "Whether every chain holds, and where each broken one breaks.",
                        APIResponse.ref("AuditVerification")),
                    422: APIResponse.shared("Invalid"),
                ]) { first, _ in first }),
            "post": APIOperation(
                "Prove every chain of the tenant intact and consistent with the given signed checkpoints",
                requestBody: [
                    "type": "object", "required": ["checkpoints"], "additionalProperties": false,
                    "properties": ["checkpoints": ["type": "array", "items": APIResponse.ref("AuditCheckpoint")]],
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "Whether every chain holds, and where each broken one breaks.",
                        APIResponse.ref("AuditVerification")),
                    400: APIResponse.shared("Malformed"),
                    413: APIResponse.problem("More than 8 MiB of checkpoints."),
                    422: APIResponse.shared("Invalid"),
                    503: APIResponse.problem("No trust bundle to check the checkpoints' signatures with."),
                ]) { first, _ in first }),
        ],
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "AuditPage": [
            "type": "object", "required": ["items"],
            "properties": [
                "items": ["type": "array", "items": APIResponse.ref("AuditRecord")],
                "next": ["type": ["string", "null"]],
            ],
        ],
        "AuditRecord": [
            "type": "object",
            "required": [
                "tenant", "topic", "partition", "sequence", "offset", "id", "type", "source", "time", "data",
                "previousHash", "hash", "cursor",
            ],
            "properties": [
                "tenant": ["type": "string"], "topic": ["type": "string"], "partition": ["type": "integer"],
                "sequence": ["type": "integer"], "offset": ["type": "integer"], "id": ["type": "string"],
                "type": ["type": "string"], "source": ["type": "string"],
                "time": ["type": "string", "format": "date-time"], "subject": ["type": ["string", "null"]],
                "outcome": ["type": ["string", "null"]], "clientWorkload": ["type": ["string", "null"]],
                "serverWorkload": ["type": ["string", "null"]], "traceparent": ["type": ["string", "null"]],
                "data": ["type": "object"], "signedBy": ["type": ["string", "null"]],
                "previousHash": ["type": "string"], "hash": ["type": "string"], "cursor": ["type": "string"],
            ],
        ],
        "AuditCheckpoint": [
            "type": "object", "required": ["tenant", "heads", "signature"],
            "properties": [
                "tenant": ["type": "string"], "signature": ["type": "string"],
                "heads": [
                    "type": "array",
                    "items": [
                        "type": "object", "required": ["topic", "partition", "sequence", "hash"],
                        "properties": [
                            "topic": ["type": "string"], "partition": ["type": "integer"],
                            "sequence": ["type": "integer"], "hash": ["type": "string"],
                        ],
                    ],
                ],
            ],
        ],
        "AuditVerification": [
            "type": "object", "required": ["verified", "records", "chains", "checkpointsMatched", "breaks"],
            "properties": [
                "verified": ["type": "boolean"], "records": ["type": "integer"], "chains": ["type": "integer"],
                "checkpointsMatched": ["type": "integer"],
                "breaks": [
                    "type": "array",
                    "items": [
                        "type": "object", "required": ["chain", "sequence", "reason"],
                        "properties": [
                            "chain": ["type": "string"], "sequence": ["type": "integer"],
                            "eventID": ["type": ["string", "null"]], "reason": ["type": "string"],
                        ],
                    ],
                ],
            ],
        ],
    ]
}
