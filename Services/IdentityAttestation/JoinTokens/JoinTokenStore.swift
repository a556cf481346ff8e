import Foundation
import Logging
import PostgresNIO
import SigilAttestation
import SigilEvents
import SigilProjection

/// Join tokens in PostgreSQL (schema `attest`), shared by every attestation replica: a token is taken by one
/// conditional UPDATE, so of two replicas handling requests with the same token at once exactly one succeeds. Only
/// the secret's SHA-256 is stored.
struct JoinTokenStore: JoinTokenRedeemer {
    let schema: SchemaName
    let postgres: PostgresClient
    let logger: Logger

    /// A join token as listed: never the secret.
    struct Listed: Codable, Sendable {
        let id: String
        let trustProvider: String
        let name: String
        let createdAt: Date
        let createdBy: String
        let expiresAt: Date
        let usedAt: Date?
        let usedByRequest: String?
    }

    func create(
        _ token: JoinToken, tenant: String, trustProvider: String, name: String, expiresAt: Date, createdBy: String
    ) async throws {
        try await postgres.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).join_tokens
                (tenant, id, secret_hash, trust_provider, name, created_by, expires_at)
            VALUES (\(tenant), \(token.id), \(ByteBuffer(bytes: token.secretHash)), \(trustProvider), \(name), \(createdBy), \(expiresAt))
            """,
            logger: logger)
    }

    func redeem(_ token: JoinToken, tenant: String, requestID: String) async throws -> JoinTokenRedemption {
        // Taken now, or already taken by this same request (a record delivered again after a crash).
        let taken = try await postgres.query(
            """
            UPDATE \(unescaped: schema.rawValue).join_tokens
            SET used_at = coalesce(used_at, now()), used_by_request = \(requestID)
            WHERE tenant = \(tenant) AND id = \(token.id) AND secret_hash = \(ByteBuffer(bytes: token.secretHash))
              AND expires_at > now() AND (used_at IS NULL OR used_by_request = \(requestID))
            RETURNING trust_provider, name
            """,
            logger: logger)
        for try await (trustProvider, name) in taken.decode((String, String).self) {
            return .redeemed(trustProvider: trustProvider, name: name)
        }
        let found = try await postgres.query(
            """
            SELECT used_at IS NOT NULL, expires_at <= now() FROM \(unescaped: schema.rawValue).join_tokens
            WHERE tenant = \(tenant) AND id = \(token.id) AND secret_hash = \(ByteBuffer(bytes: token.secretHash))
            """,
            logger: logger)
        for try await (used, expired) in found.decode((Bool, Bool).self) {
            return used ? .alreadyUsed : expired ? .expired : .unknown
        }
        return .unknown
    }

    func list(tenant: String) async throws -> [Listed] {
        let rows = try await postgres.query(
            """
            SELECT id, trust_provider, name, created_at, created_by, expires_at, used_at, used_by_request
            FROM \(unescaped: schema.rawValue).join_tokens WHERE tenant = \(tenant) ORDER BY created_at
            """,
            logger: logger)
        var listed: [Listed] = []
        for try await (id, provider, name, created, by, expires, used, request) in rows.decode(
            (String, String, String, Date, String, Date, Date?, String?).self)
        {
            listed.append(
                Listed(
                    id: id, trustProvider: provider, name: name, createdAt: created, createdBy: by, expiresAt: expires,
                    usedAt: used, usedByRequest: request))
        }
        return listed
    }

    enum Revocation: Equatable {
        case revoked
        /// Used already: its record stays, for the audit.
        case used
        case unknown
    }

    /// Removes an unused token.
    func revoke(id: String, tenant: String) async throws -> Revocation {
        let rows = try await postgres.query(
            """
            DELETE FROM \(unescaped: schema.rawValue).join_tokens
            WHERE tenant = \(tenant) AND id = \(id) AND used_at IS NULL RETURNING id
            """,
            logger: logger)
        for try await _ in rows.decode(String.self) { return .revoked }
        let used = try await postgres.query(
            "SELECT id FROM \(unescaped: schema.rawValue).join_tokens WHERE tenant = \(tenant) AND id = \(id)",
            logger: logger)
        for try await _ in used.decode(String.self) { return .used }
        return .unknown
    }

    static let migration = Migration(version: 4, name: "join tokens") { schema in
        [
            """
            CREATE TABLE \(unescaped: schema.rawValue).join_tokens (
                tenant text NOT NULL,
                id text NOT NULL,
                secret_hash bytea NOT NULL,
                trust_provider text NOT NULL,
                name text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                created_by text NOT NULL,
                expires_at timestamptz NOT NULL,
                used_at timestamptz,
                used_by_request text,
                PRIMARY KEY (tenant, id))
            """
        ]
    }
}
