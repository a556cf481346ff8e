import Foundation
import Hummingbird
import SigilEvents
import SigilPolicy
import SigilService

/// `POST /v1/decisions/explain`: what the policy service would decide for a client workload reaching a server
/// workload (with the trust providers that would have verified its evidence, at a moment), and why — every policy
/// weighed, each check with what was expected and what the request would have. Decides nothing, writes nothing.
struct ExplainController {
    let engine: PolicyEngine

    static let requestSchema = SpecSchema.ObjectSchema(
        "A request to explain.",
        [
            .init("clientWorkload", SpecSchema.reference, required: true, "The ClientWorkload asking."),
            .init("serverWorkload", SpecSchema.reference, required: true, "The ServerWorkload it would reach."),
            .init(
                "trustProviders", .array(of: SpecSchema.reference, minItems: 0, maxItems: 16),
                "The trust providers that would have verified its evidence (default: every one the policies name)."),
            .init(
                "at",
                .string(
                    maxLength: 40,
                    pattern: (
                        regex: "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})$",
                        meaning: "an RFC 3339 time"
                    )),
                "The moment to decide at (default: now)."),
            .init(
                "from", .string(maxLength: 45),
                "The workload's address as the edge would see it (for source-network and geography conditions)."),
            .init("method", .string(maxLength: 16), default: "GET", "The request's method."),
            .init(
                "path", .string(maxLength: 2048), default: "/",
                "The request's path (for credential routes by path)."),
            .init(
                "headers", .map(of: .string(maxLength: 1024), maxEntries: 32),
                "Request headers credential routes read (name → value)."),
        ])

    struct Question: Decodable {
        let clientWorkload: String
        let serverWorkload: String
        let trustProviders: [String]?
        let at: String?
        let from: String?
        let method: String
        let path: String
        let headers: [String: String]?
    }

    struct Answer: Encodable {
        let decision: String
        let accessPolicy: String?
        let credentialProvider: String?
        let reason: RefusalReason?
        let at: Date
        let trustProviders: [String]
        let request: RequestAttributes
        let explanation: DecisionExplanation?
    }

    func add(to group: RouterGroup<AdminRequestContext>, resources: ResourceStore) {
        group.post("/decisions/explain") { request, context in
            let principal = try context.requirePrincipal()
            let question = try await request.admittedBody(
                Self.requestSchema, as: Question.self, limit: 16 * 1024, what: "a question")
            var moment = Date()
            if let at = question.at {
                guard let parsed = CloudEvent.parseTime(at) else {
                    throw ProblemDetails.invalidField("at", "at is not an RFC 3339 time")
                }
                moment = parsed
            }
            guard
                resources.index(ServerWorkloadSpec.self).get(tenant: principal.tenant, name: question.serverWorkload)
                    != nil
            else {
                throw ProblemDetails.invalidField(
                    "serverWorkload", "no ServerWorkload named \(question.serverWorkload)")
            }
            // Without trust providers given: assume the evidence was verified by every one the pair's policies name.
            let providers =
                question.trustProviders
                ?? Array(
                    Set(
                        resources.index(AccessPolicySpec.self).all(tenant: principal.tenant)
                            .filter {
                                $0.spec.clientWorkload == question.clientWorkload
                                    && $0.spec.serverWorkload == question.serverWorkload
                            }
                            .flatMap { ($0.spec.requirement?.all ?? []) + ($0.spec.requirement?.any ?? []) })
                ).sorted()
            var headers: [String: String] = [:]
            for (name, value) in question.headers ?? [:] { headers[name.lowercased()] = value }
            let attributes = RequestAttributes(
                method: question.method.uppercased(), path: question.path, source: question.from, headers: headers)
            let decision = engine.decide(
                clientWorkload: question.clientWorkload, serverWorkload: question.serverWorkload,
                request: attributes, trustProviders: providers, tenant: principal.tenant, at: moment)
            return OperationsController.json(
                .ok,
                Answer(
                    decision: decision.policy == nil ? "deny" : "allow", accessPolicy: decision.policy?.name,
                    credentialProvider: decision.credentialProvider, reason: decision.refusal, at: moment,
                    trustProviders: providers, request: attributes, explanation: decision.explanation))
        }
        group.refuseOtherMethods("/decisions/explain", allowed: [.post])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/decisions/explain": [
            "post": APIOperation(
                "Explain what would be decided for a client and server workload, and why (decides nothing)",
                requestBody: SpecSchema.object(requestSchema).jsonSchema,
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json(
                        "The decision and every policy weighed.", APIResponse.ref("DecisionExplained")),
                    400: APIResponse.problem("The body is not JSON."),
                    413: APIResponse.problem("The body is larger than 16 KiB."),
                    422: APIResponse.problem("A field is invalid, or the server workload does not exist."),
                ]) { first, _ in first })
        ]
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "DecisionExplained": [
            "type": "object", "required": ["decision", "at", "trustProviders"],
            "properties": [
                "decision": ["type": "string", "enum": ["allow", "deny"]],
                "accessPolicy": ["type": ["string", "null"]], "credentialProvider": ["type": ["string", "null"]],
                "reason": [
                    "type": ["object", "null"],
                    "properties": ["code": ["type": "string"], "detail": ["type": "string"]],
                ],
                "at": ["type": "string", "format": "date-time"],
                "trustProviders": ["type": "array", "items": ["type": "string"]],
                "request": [
                    "type": "object",
                    "properties": [
                        "method": ["type": "string"], "path": ["type": "string"],
                        "source": ["type": ["string", "null"]],
                        "headers": ["type": "object", "additionalProperties": ["type": "string"]],
                    ],
                ],
                "explanation": [
                    "type": ["object", "null"],
                    "properties": [
                        "decidedBy": ["type": ["string", "null"]],
                        "policies": [
                            "type": "array",
                            "items": [
                                "type": "object",
                                "properties": [
                                    "policy": ["type": "string"], "effect": ["type": "string"],
                                    "applies": ["type": "boolean"],
                                    "checks": [
                                        "type": "array",
                                        "items": [
                                            "type": "object",
                                            "properties": [
                                                "condition": ["type": "string"], "satisfied": ["type": "boolean"],
                                                "expected": ["type": "string"], "actual": ["type": "string"],
                                            ],
                                        ],
                                    ],
                                ],
                            ],
                        ],
                    ],
                ],
            ],
        ]
    ]
}
