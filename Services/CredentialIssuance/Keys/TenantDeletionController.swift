import Foundation
import Hummingbird
import PostgresNIO
import SigilEvents
import SigilProjection
import SigilService

/// `DELETE /v1/tenant?confirm=<tenant>`: an administrator deletes their tenant's data keys — crypto-shredding. For each
/// data key a `TenantKeyDestroyed` is written under the key its wrapped copy was written under, so compaction of
/// `sigil.config` removes the wrapped key (the topic's `max.compaction.lag.ms` bounds when), and every issuance
/// replica deletes its row and forgets it; then `TenantDeleted`. Every secret of the tenant encrypted with those keys
/// — in resource events on the immutable log, in rows, in backups — is unreadable from then on, and tokens signed with
/// the derived JWT keys no longer verify once verifiers refresh the JWKS. The tenant's resources stay defined (their
/// secrets unreadable) until removed; a new secret applied later gets a new data key.
struct TenantDeletionController {
    let keyring: TenantKeyring
    let schema: SchemaName
    let postgres: PostgresClient
    let context: ServiceContext

    struct Deleted: Encodable {
        let tenant: String
        let destroyedDataKeys: [String]
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        group.delete("/tenant") { request, requestContext in
            let principal = try requestContext.requirePrincipal([.admin])
            guard request.uri.queryParameters["confirm"].map(String.init) == principal.tenant else {
                throw ProblemDetails(
                    status: .badRequest, slug: "confirmation-required", title: "Bad Request",
                    detail:
                        "deleting a tenant destroys its data keys and cannot be undone: repeat with ?confirm=\(principal.tenant)"
                )
            }
            let destroyed = try await destroyKeys(of: principal.tenant, logger: requestContext.logger)
            try await context.publish(
                TenantDeleted(), to: .config, tenant: principal.tenant, partitionKey: "\(principal.tenant)/tenant")
            requestContext.logger.notice(
                "tenant deleted: its data keys are destroyed",
                metadata: [
                    "tenant": "\(principal.tenant)", "keys": "\(destroyed.count)", "by": "\(principal.tokenName)",
                ])
            return OperationsController.json(.ok, Deleted(tenant: principal.tenant, destroyedDataKeys: destroyed))
        }
        group.refuseOtherMethods("/tenant", allowed: [.delete])
    }

    /// Publishes a `TenantKeyDestroyed` for every data key of the tenant (those in the table and in memory).
    func destroyKeys(of tenant: String, logger: Logger) async throws -> [String] {
        let rows = try await postgres.query(
            "SELECT key_id FROM \(unescaped: schema.rawValue).tenant_data_keys WHERE tenant = \(tenant)",
            logger: logger)
        var keyIDs = Set(keyring.keys(tenant: tenant).map(\.keyID))
        for try await keyID in rows.decode(String.self) { keyIDs.insert(keyID) }
        for keyID in keyIDs.sorted() {
            try await context.publish(
                TenantKeyDestroyed(keyID: keyID), to: .config, tenant: tenant,
                partitionKey: TenantKeyring.recordKey(tenant: tenant, keyID: keyID), subject: keyID)
        }
        return keyIDs.sorted()
    }

    static let openAPIPaths: APIPaths = [
        "/v1/tenant": [
            "delete": APIOperation(
                "Delete the caller's tenant: destroy its data keys (crypto-shredding), irreversibly",
                parameters: [
                    APIOperation.query(
                        "confirm", ["type": "string"], "The tenant's name, repeated to confirm (required).")
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("The destroyed data keys.", APIResponse.ref("TenantDeleted")),
                    400: APIResponse.problem("confirm is missing or is not the tenant's name."),
                ]) { first, _ in first })
        ]
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "TenantDeleted": [
            "type": "object", "required": ["tenant", "destroyedDataKeys"],
            "properties": [
                "tenant": ["type": "string"], "destroyedDataKeys": ["type": "array", "items": ["type": "string"]],
            ],
        ]
    ]
}
