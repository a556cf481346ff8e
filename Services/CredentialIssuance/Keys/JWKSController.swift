import Foundation
import Hummingbird
import SigilEvents
import SigilService

/// What third parties verify Sigil's minted JWTs with, per tenant, without a token: `GET
/// /tenants/{tenant}/.well-known/openid-configuration` (OpenID Connect Discovery 1.0: `issuer`, `jwks_uri`, the
/// algorithms) and `GET /tenants/{tenant}/.well-known/jwks.json` (RFC 7517: the previous, current and next period's
/// public keys). The issuer is `SIGIL_ISSUE_PUBLIC_URL` followed by `/tenants/<tenant>`. Also `GET
/// /tenants/{tenant}/x509-bundle.pem`: the certificate authorities (previous, current, next) of `x509` credentials, for
/// upstreams to trust. Cacheable for five minutes.
struct JWKSController {
    let signing: TenantSigningKeys
    let authority: TenantCertificateAuthority
    let publicURL: String

    static let tenantPattern = try! NSRegularExpression(pattern: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")

    func issuer(_ tenant: String) -> String { "\(publicURL)/tenants/\(tenant)" }

    func add(to router: Router<AdminRequestContext>) {
        router.get("/tenants/:tenant/.well-known/jwks.json") { _, context in
            let tenant = try tenant(context)
            let keys = signing.published(tenant: tenant).map(\.jwk)
            return try Self.json(["keys": keys])
        }
        router.get("/tenants/:tenant/x509-bundle.pem") { _, context in
            let tenant = try tenant(context)
            let pem = authority.bundle(tenant: tenant).map(\.pem).joined(separator: "\n")
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-pem-file", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
        router.get("/tenants/:tenant/.well-known/openid-configuration") { _, context in
            let tenant = try tenant(context)
            _ = try Self.requireKeys(signing.published(tenant: tenant))
            let document: [String: Any] = [
                "issuer": issuer(tenant), "jwks_uri": issuer(tenant) + "/.well-known/jwks.json",
                "id_token_signing_alg_values_supported": TenantSigningKeys.Algorithm.allCases.map(\.rawValue),
                "response_types_supported": ["id_token"], "subject_types_supported": ["public"],
            ]
            return try Self.json(document)
        }
    }

    /// The tenant named by the path, if it is a tenant name and has keys.
    private func tenant(_ context: AdminRequestContext) throws -> String {
        let tenant = context.parameters.get("tenant") ?? ""
        let range = NSRange(tenant.startIndex..., in: tenant)
        guard Self.tenantPattern.firstMatch(in: tenant, range: range) != nil else {
            throw ProblemDetails(
                status: .notFound, slug: "unknown-tenant", title: "Not Found", detail: "no such tenant")
        }
        _ = try Self.requireKeys(signing.published(tenant: tenant))
        return tenant
    }

    private static func requireKeys(_ keys: [TenantSigningKeys.SigningKey]) throws -> [TenantSigningKeys.SigningKey] {
        guard !keys.isEmpty else {
            throw ProblemDetails(
                status: .notFound, slug: "unknown-tenant", title: "Not Found",
                detail: "no such tenant, or it has issued nothing yet")
        }
        return keys
    }

    static func json(_ object: Any) throws -> Response {
        let body = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static let tenantParameter: JSONValue = [
        "name": "tenant", "in": "path", "required": true,
        "schema": ["type": "string", "pattern": "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"],
    ]

    static let openAPIPaths: APIPaths = [
        "/tenants/{tenant}/.well-known/jwks.json": [
            "get": APIOperation(
                "The tenant's JWT signing keys (previous, current and next period), RFC 7517", open: true,
                parameters: [tenantParameter],
                responses: [
                    200: APIResponse.json("The JSON Web Key Set.", ["type": "object", "required": ["keys"]]),
                    404: APIResponse.problem("No such tenant, or it has issued nothing yet."),
                ])
        ],
        "/tenants/{tenant}/x509-bundle.pem": [
            "get": APIOperation(
                "The tenant's certificate authorities for x509 credentials (previous, current and next period), PEM",
                open: true, parameters: [tenantParameter],
                responses: [
                    200: [
                        "description": "PEM certificates.",
                        "content": ["application/x-pem-file": ["schema": ["type": "string"]]],
                    ],
                    404: APIResponse.problem("No such tenant, or it has issued nothing yet."),
                ])
        ],
        "/tenants/{tenant}/.well-known/openid-configuration": [
            "get": APIOperation(
                "The tenant's issuer metadata (OpenID Connect Discovery 1.0)", open: true,
                parameters: [tenantParameter],
                responses: [
                    200: APIResponse.json(
                        "Issuer, JWKS URI and algorithms.", ["type": "object", "required": ["issuer", "jwks_uri"]]),
                    404: APIResponse.problem("No such tenant, or it has issued nothing yet."),
                ])
        ],
    ]
}
