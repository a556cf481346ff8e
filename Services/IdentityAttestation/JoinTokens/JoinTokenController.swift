import Foundation
import Hummingbird
import SigilAttestation
import SigilEvents
import SigilService

/// `/v1/join-tokens`: an administrator creates one-time join tokens for a `join-token` trust provider (the token is
/// shown once, in the answer to the POST), lists them (never the secret) and revokes unused ones. Creation and
/// revocation are events on `access.attested`, so the audit log has them.
struct JoinTokenController {
    let store: JoinTokenStore
    let context: ServiceContext

    static let requestSchema = SpecSchema.ObjectSchema(
        "A join token to create.",
        [
            .init("trustProvider", SpecSchema.reference, required: true, "The join-token TrustProvider it is for."),
            .init(
                "name", .string(maxLength: 63, pattern: SpecSchema.dnsLabel), required: true,
                "What the token bootstraps (a host name): the `name` attribute client workloads match."),
            .init(
                "ttlSeconds", .integer(minimum: 60, maximum: 30 * 86_400), default: 3600,
                "How long it may wait to be used (at most the provider's maxTTLSeconds)."),
        ])

    struct CreateRequest: Decodable {
        let trustProvider: String
        let name: String
        let ttlSeconds: Int
    }

    struct Created: Encodable {
        let id: String
        let token: String
        let trustProvider: String
        let name: String
        let expiresAt: Date
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        let providers = context.resources.index(TrustProviderSpec.self)
        group.post("/join-tokens") { request, context in
            let principal = try context.requirePrincipal([.admin])
            let body = try await request.admittedBody(
                Self.requestSchema, as: CreateRequest.self, limit: 4096, what: "a join token request")
            guard let provider = providers.get(tenant: principal.tenant, name: body.trustProvider) else {
                throw ProblemDetails.invalidField("trustProvider", "no TrustProvider named \(body.trustProvider)")
            }
            guard case .joinToken(let spec) = provider.spec else {
                throw ProblemDetails.invalidField(
                    "trustProvider", "TrustProvider \(body.trustProvider) is not of type join-token")
            }
            guard body.ttlSeconds <= spec.maxTTLSeconds else {
                throw ProblemDetails.invalidField(
                    "ttlSeconds",
                    "ttlSeconds must be at most \(spec.maxTTLSeconds) (TrustProvider \(body.trustProvider)'s maxTTLSeconds)"
                )
            }
            let (token, joinToken) = JoinToken.generate()
            let expiresAt = Date().addingTimeInterval(TimeInterval(body.ttlSeconds))
            try await store.create(
                joinToken, tenant: principal.tenant, trustProvider: body.trustProvider, name: body.name,
                expiresAt: expiresAt, createdBy: principal.tokenName)
            try await self.context.publish(
                JoinTokenCreated(
                    tokenID: joinToken.id, trustProvider: body.trustProvider, name: body.name, expiresAt: expiresAt,
                    createdBy: principal.tokenName),
                to: .accessAttested, tenant: principal.tenant, partitionKey: joinToken.id, subject: joinToken.id)
            var response = OperationsController.json(
                .created,
                Created(
                    id: joinToken.id, token: token, trustProvider: body.trustProvider, name: body.name,
                    expiresAt: expiresAt))
            response.headers[.cacheControl] = "no-store"
            return response
        }
        group.get("/join-tokens") { _, context in
            let principal = try context.requirePrincipal()
            struct Listing: Encodable { let items: [JoinTokenStore.Listed] }
            return OperationsController.json(.ok, Listing(items: try await store.list(tenant: principal.tenant)))
        }
        group.delete("/join-tokens/:id") { _, context in
            let principal = try context.requirePrincipal([.admin])
            let id = try context.parameters.require("id")
            let outcome =
                id.utf8.count == 16 && id.allSatisfy(\.isHexDigit)
                ? try await store.revoke(id: id, tenant: principal.tenant) : .unknown
            switch outcome {
            case .revoked: break
            case .used:
                throw ProblemDetails.conflict("join-token-used", "join token \(id) was used already; nothing to revoke")
            case .unknown: throw ProblemDetails.notFound("no join token with id \(id.prefix(32))")
            }
            try await self.context.publish(
                JoinTokenRevoked(tokenID: id, revokedBy: principal.tokenName), to: .accessAttested,
                tenant: principal.tenant, partitionKey: id, subject: id)
            return Response(status: .noContent)
        }
        group.refuseOtherMethods("/join-tokens", allowed: [.get, .post])
        group.refuseOtherMethods("/join-tokens/:id", allowed: [.delete])
    }

    static let openAPIPaths: APIPaths = [
        "/v1/join-tokens": [
            "post": APIOperation(
                "Create a one-time join token (shown once)",
                requestBody: SpecSchema.object(requestSchema).jsonSchema,
                responses: APIResponse.authenticated.merging([
                    201: APIResponse.json(
                        "The token: keep it secret, hand it to the machine.", APIResponse.ref("JoinTokenCreated")),
                    400: APIResponse.problem("The body is not JSON."),
                    413: APIResponse.problem("The body is larger than 4 KiB."),
                    422: APIResponse.problem("A field is invalid, the provider is unknown or not of type join-token."),
                ]) { first, _ in first }),
            "get": APIOperation(
                "List join tokens (never their secrets)",
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("The tenant's join tokens.", APIResponse.ref("JoinTokenList"))
                ]) { first, _ in first }),
        ],
        "/v1/join-tokens/{id}": [
            "delete": APIOperation(
                "Revoke an unused join token",
                parameters: [
                    ["name": "id", "in": "path", "required": true, "schema": ["type": "string", "maxLength": 16]]
                ],
                responses: APIResponse.authenticated.merging([
                    204: APIResponse.empty("Revoked."),
                    404: APIResponse.shared("NotFound"),
                    409: APIResponse.problem("The token was used already."),
                ]) { first, _ in first })
        ],
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "JoinTokenCreated": [
            "type": "object", "required": ["id", "token", "trustProvider", "name", "expiresAt"],
            "properties": [
                "id": ["type": "string"], "token": ["type": "string", "description": "Shown this once."],
                "trustProvider": ["type": "string"], "name": ["type": "string"],
                "expiresAt": ["type": "string", "format": "date-time"],
            ],
        ],
        "JoinTokenList": [
            "type": "object", "required": ["items"],
            "properties": [
                "items": [
                    "type": "array",
                    "items": [
                        "type": "object",
                        "required": ["id", "trustProvider", "name", "createdAt", "createdBy", "expiresAt"],
                        "properties": [
                            "id": ["type": "string"], "trustProvider": ["type": "string"], "name": ["type": "string"],
                            "createdAt": ["type": "string", "format": "date-time"], "createdBy": ["type": "string"],
                            "expiresAt": ["type": "string", "format": "date-time"],
                            "usedAt": ["type": ["string", "null"], "format": "date-time"],
                            "usedByRequest": ["type": ["string", "null"]],
                        ],
                    ],
                ]
            ],
        ],
    ]
}
