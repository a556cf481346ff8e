import Crypto
import Foundation
import Logging
import NIOPosix
import NIOSSL
import PostgresNIO
import SigilEvents
import _CryptoExtras

/// What sigil-issue does in a `postgres-dynamic` provider's database, logged in as its administrative role: create a
/// lease's role (a SCRAM verifier computed here, so the password never reaches the server, its statement log or
/// `pg_stat_statements`), renew it, revoke it (no login, sessions terminated, objects reassigned, dropped), and list
/// roles that look like leases (for orphans). Role and schema names are admitted by pattern and quoted as identifiers;
/// the verifier and timestamps are made here: no workload text reaches SQL.
struct PostgresRoleAdministrator: Sendable {
    /// Every lease role's name starts so (`sigil_` and the lease id's 32 hex digits).
    static let rolePrefix = "sigil_"

    let spec: PostgresDynamicCredential
    let adminPassword: String
    let logger: Logger

    static func role(forLease leaseID: String) -> String {
        rolePrefix + leaseID.replacingOccurrences(of: "lease-", with: "").replacingOccurrences(of: "-", with: "")
    }

    /// The lease whose role this is, if it is one.
    static func lease(ofRole role: String) -> String? {
        guard role.hasPrefix(rolePrefix) else { return nil }
        let hex = Array(role.dropFirst(rolePrefix.count))
        guard hex.count == 32, hex.allSatisfy(\.isHexDigit) else { return nil }
        let text = String(hex)
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(
                text[
                    text.index(
                        text.startIndex, offsetBy: range.lowerBound)..<text.index(
                            text.startIndex, offsetBy: range.upperBound)])
        }
        return "lease-" + parts.joined(separator: "-")
    }

    func create(role: String, password: String, validUntil: Date) async throws {
        try await withConnection { connection in
            try await run(
                connection,
                "CREATE ROLE \(Self.identifier(role)) LOGIN PASSWORD \(Self.literal(Self.verifier(password))) "
                    + "VALID UNTIL \(Self.literal(Self.timestamp(validUntil)))")
            for granted in spec.grants.roles ?? [] {
                try await run(connection, "GRANT \(Self.identifier(granted)) TO \(Self.identifier(role))")
            }
            for schema in spec.grants.schemas ?? [] {
                let name = Self.identifier(schema.name)
                if let privileges = schema.privileges {
                    try await run(
                        connection,
                        "GRANT \(privileges.joined(separator: ", ")) ON SCHEMA \(name) TO \(Self.identifier(role))")
                }
                if let tables = schema.tables {
                    try await run(
                        connection,
                        "GRANT \(tables.joined(separator: ", ")) ON ALL TABLES IN SCHEMA \(name) TO "
                            + Self.identifier(role))
                }
                if let sequences = schema.sequences {
                    try await run(
                        connection,
                        "GRANT \(sequences.joined(separator: ", ")) ON ALL SEQUENCES IN SCHEMA \(name) TO "
                            + Self.identifier(role))
                }
            }
        }
    }

    /// A new password and a later end; open sessions carry on (a password only matters at login).
    func renew(role: String, password: String, validUntil: Date) async throws {
        try await withConnection { connection in
            try await run(
                connection,
                "ALTER ROLE \(Self.identifier(role)) PASSWORD \(Self.literal(Self.verifier(password))) VALID UNTIL "
                    + Self.literal(Self.timestamp(validUntil)))
        }
    }

    /// Ends the role: no more logins, every session terminated, what it owns reassigned to the administrator, then
    /// dropped. A role already gone is fine (revocation is retried until it is recorded). Returns the sessions ended.
    func revoke(role: String) async throws -> Int {
        try await withConnection { connection in
            let exists =
                try await connection.query(
                    "SELECT count(*)::int FROM pg_roles WHERE rolname = \(role)", logger: logger
                ).collect().first?.decode(Int.self) ?? 0
            guard exists > 0 else { return 0 }
            try await run(connection, "ALTER ROLE \(Self.identifier(role)) NOLOGIN")
            // Membership lets a CREATEROLE administrator (not a superuser) signal the role's backends and reassign
            // what it owns.
            try await run(connection, "GRANT \(Self.identifier(role)) TO \(Self.identifier(spec.adminUser))")
            let terminated =
                try await connection.query(
                    "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int FROM pg_stat_activity WHERE usename = \(role)",
                    logger: logger
                ).collect().first?.decode(Int.self) ?? 0
            try await run(
                connection, "REASSIGN OWNED BY \(Self.identifier(role)) TO \(Self.identifier(spec.adminUser))")
            try await run(connection, "DROP OWNED BY \(Self.identifier(role))")
            try await run(connection, "DROP ROLE \(Self.identifier(role))")
            return terminated
        }
    }

    /// Roles named like leases in this database's cluster.
    func leaseRoles() async throws -> [String] {
        try await withConnection { connection in
            var roles: [String] = []
            let rows = try await connection.query(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'sigil\\_%'", logger: logger)
            for try await role in rows.decode(String.self) where Self.lease(ofRole: role) != nil { roles.append(role) }
            return roles
        }
    }

    private func run(_ connection: PostgresConnection, _ sql: String) async throws {
        _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect()
    }

    private func withConnection<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        let tls: PostgresConnection.Configuration.TLS
        switch spec.sslmode {
        case .disable: tls = .disable
        case .verifyFull:
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            if let ca = spec.ca {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
            }
            tls = .require(try NIOSSLContext(configuration: configuration))
        }
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.next(),
            configuration: .init(
                host: spec.host, port: spec.port, username: spec.adminUser, password: adminPassword,
                database: spec.database, tls: tls),
            id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (RFC 5803), as PostgreSQL stores a password.
    static func verifier(_ password: String, iterations: Int = 4_096) throws -> String {
        let salt = (0..<16).map { _ in UInt8.random(in: 0...255) }
        let salted = try KDF.Insecure.PBKDF2.deriveKey(
            from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
            unsafeUncheckedRounds: iterations)
        let clientKey = HMAC<SHA256>.authenticationCode(for: Array("Client Key".utf8), using: salted)
        let storedKey = SHA256.hash(data: Array(clientKey))
        let serverKey = HMAC<SHA256>.authenticationCode(for: Array("Server Key".utf8), using: salted)
        return "SCRAM-SHA-256$\(iterations):\(Data(salt).base64EncodedString())$"
            + "\(Data(storedKey).base64EncodedString()):\(Data(serverKey).base64EncodedString())"
    }

    /// A random password: 32 bytes, base64url (nothing that needs quoting anywhere).
    static func password() -> String {
        Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64URLEncodedString
    }

    static func identifier(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    static func literal(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "''") + "'" }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
