import Foundation
import Hummingbird
import PostgresNIO
import SigilEvents
import SigilService

/// `/v1/leases`: the tenant's `postgres-dynamic` leases (who holds which database role until when, and how each
/// ended); `DELETE /v1/leases/{id}` (an administrator; `sigil lease revoke`) ends one now: its role can no longer log
/// in, its sessions are terminated, the role is dropped. The edge's next connection asks for a new lease, which policy
/// decides again.
struct LeaseController {
    let leases: PostgresLeases

    struct Listed: Encodable, Sendable {
        let id: String
        let role: String
        let credentialProvider: String
        let clientWorkload: String
        let serverWorkload: String?
        let edgeID: String?
        let database: String?
        let grantedAt: Date?
        let expiresAt: Date
        let revokedAt: Date?
        let revokeReason: String?
        let revokedBy: String?
        let sessionsTerminated: Int?
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        group.get("/leases") { request, context in
            let principal = try context.requirePrincipal()
            let open: Bool
            switch request.uri.queryParameters["state"].map(String.init) {
            case nil, "open": open = true
            case "all": open = false
            default: throw ProblemDetails.invalidField("state", "state must be open (the default) or all")
            }
            struct Listing: Encodable { let items: [Listed] }
            return OperationsController.json(
                .ok, Listing(items: try await list(tenant: principal.tenant, open: open, logger: context.logger)))
        }
        group.delete("/leases/:id") { _, context in
            let principal = try context.requirePrincipal([.admin])
            let id = try context.parameters.require("id")
            guard id.hasPrefix("lease-"), id.utf8.count <= 64,
                let found = try await list(tenant: principal.tenant, open: false, only: id, logger: context.logger)
                    .first
            else { throw ProblemDetails.notFound("no lease with id \(id.prefix(64))") }
            guard found.revokedAt == nil,
                try await leases.requestRevocation(tenant: principal.tenant, leaseID: id, by: principal.tokenName)
            else {
                throw ProblemDetails.conflict(
                    "lease-ended", "lease \(id) has ended already (\(found.revokeReason ?? ""))")
            }
            let now = try await list(tenant: principal.tenant, open: false, only: id, logger: context.logger).first
            // Revoked by this call, or (the database unreachable, or another replica holding it) shortly.
            return OperationsController.json(now?.revokedAt != nil ? .ok : .accepted, now ?? found)
        }
        group.refuseOtherMethods("/leases", allowed: [.get])
        group.refuseOtherMethods("/leases/:id", allowed: [.delete])
    }

    /// The tenant's leases, newest first (`only`: that lease alone).
    private func list(tenant: String, open: Bool, only: String? = nil, logger: Logger) async throws -> [Listed] {
        let rows = try await leases.postgres.query(
            """
            SELECT lease_id, role, credential_provider, client_workload, server_workload, edge_id, database,
            granted_at, expires_at, revoked_at, revoke_reason, revoked_by, sessions_terminated
            FROM \(unescaped: leases.table) WHERE tenant = \(tenant) AND role IS NOT NULL
            AND (\(!open) OR revoked_at IS NULL) AND (\(only)::text IS NULL OR lease_id = \(only)::text) ORDER BY granted_at DESC LIMIT 1000
            """, logger: logger)
        var listed: [Listed] = []
        for try await row in rows.decode(
            (
                String, String, String, String, String?, String?, String?, Date?, Date, Date?, String?, String?,
                Int?
            ).self)
        {
            listed.append(
                Listed(
                    id: row.0, role: row.1, credentialProvider: row.2, clientWorkload: row.3, serverWorkload: row.4,
                    edgeID: row.5, database: row.6, grantedAt: row.7, expiresAt: row.8, revokedAt: row.9,
                    revokeReason: row.10, revokedBy: row.11, sessionsTerminated: row.12))
        }
        return listed
    }

    static let openAPIPaths: APIPaths = [
        "/v1/leases": [
            "get": APIOperation(
                "List the tenant's database leases (open ones; `?state=all` for ended ones too)",
                parameters: [
                    APIOperation.query("state", ["type": "string", "enum": ["open", "all"]], "open (default) or all.")
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("The leases, newest first.", APIResponse.ref("LeaseList")),
                    422: APIResponse.shared("Invalid"),
                ]) { first, _ in first })
        ],
        "/v1/leases/{id}": [
            "delete": APIOperation(
                "Revoke a lease now: its role can no longer log in, its sessions end, the role is dropped",
                parameters: [
                    ["name": "id", "in": "path", "required": true, "schema": ["type": "string", "maxLength": 64]]
                ],
                responses: APIResponse.authenticated.merging([
                    200: APIResponse.json("Revoked.", APIResponse.ref("Lease")),
                    202: APIResponse.json(
                        "Asked for; revoked as soon as the database can be reached.", APIResponse.ref("Lease")),
                    404: APIResponse.shared("NotFound"),
                    409: APIResponse.problem("The lease has ended already."),
                ]) { first, _ in first })
        ],
    ]

    static let openAPISchemas: [String: JSONValue] = [
        "Lease": [
            "type": "object",
            "required": ["id", "role", "credentialProvider", "clientWorkload", "expiresAt"],
            "properties": [
                "id": ["type": "string"], "role": ["type": "string", "description": "The database role."],
                "credentialProvider": ["type": "string"], "clientWorkload": ["type": "string"],
                "serverWorkload": ["type": ["string", "null"]], "edgeID": ["type": ["string", "null"]],
                "database": ["type": ["string", "null"], "description": "host:port/database"],
                "grantedAt": ["type": ["string", "null"], "format": "date-time"],
                "expiresAt": ["type": "string", "format": "date-time"],
                "revokedAt": ["type": ["string", "null"], "format": "date-time"],
                "revokeReason": [
                    "type": ["string", "null"], "description": "expired, revoked, provider-changed or orphaned",
                ],
                "revokedBy": ["type": ["string", "null"]],
                "sessionsTerminated": ["type": ["integer", "null"]],
            ],
        ],
        "LeaseList": [
            "type": "object", "required": ["items"],
            "properties": ["items": ["type": "array", "items": ["$ref": "#/components/schemas/Lease"]]],
        ],
    ]
}
