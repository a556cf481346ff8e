import NIOSSL
import SigilCrypto
import SigilService

/// Type `postgres-dynamic`: sigil-issue connects to the database as an administrative role (its password encrypted
/// with the tenant's data key) and creates a role per lease — a random password, `VALID UNTIL` the lease's end, the
/// grants of `grants` — renewed while the edge uses it and revoked at its end (`PostgresLeases`).
struct PostgresDynamicCredential: Codable, Sendable, Equatable {
    static let type = "postgres-dynamic"

    enum SSLMode: String, Codable, Sendable, CaseIterable {
        case verifyFull = "verify-full"
        case disable
    }

    /// What a lease's role is given: memberships of existing roles and privileges per schema.
    struct Grants: Codable, Sendable, Equatable {
        struct Schema: Codable, Sendable, Equatable {
            var name: String
            var privileges: [String]?
            var tables: [String]?
            var sequences: [String]?
        }
        var roles: [String]?
        var schemas: [Schema]?
    }

    static let schemaPrivileges = ["USAGE", "CREATE"]
    static let tablePrivileges = ["SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"]
    static let sequencePrivileges = ["USAGE", "SELECT", "UPDATE"]

    static let schema = SpecSchema.ObjectSchema(
        "A PostgreSQL role per lease, created by sigil-issue as an administrative role and dropped when the lease ends "
            + "(its sessions terminated).",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "host",
                .string(maxLength: 253, pattern: (regex: "^[A-Za-z0-9.:-]+$", meaning: "a host name or address")),
                required: true, "Where sigil-issue reaches the database."),
            .init("port", .integer(minimum: 1, maximum: 65_535), default: 5432, "The database's port."),
            .init("database", PostgresRoleName.schema, required: true, "The database the grants are made in."),
            .init(
                "sslmode", .string(choices: SSLMode.allCases.map(\.rawValue)), default: "verify-full",
                "`verify-full`: TLS, the certificate chain (`ca`) and host verified; `disable`: plain TCP."),
            .init("ca", .pem, "PEM certificate authorities the database's certificate must chain to (verify-full)."),
            .init(
                "adminUser", PostgresRoleName.schema, required: true,
                "The administrative role sigil-issue logs in as: CREATEROLE, and the grants it gives."),
            .init(
                "adminPassword", .string(maxLength: 1_024), writeOnly: true,
                "The administrative role's password; encrypted at admission, never shown again."),
            .init(
                "adminPasswordEncrypted", .string(maxLength: 4_096), readOnly: true,
                "The password as stored (encrypted with the tenant's key). Accepted back unchanged."),
            .init(
                "ttlSeconds", .integer(minimum: 10, maximum: 86_400), default: 3_600,
                "How long a lease lasts unless renewed; the edge renews it while a session uses it."),
            .init(
                "grants",
                .object(
                    "What each lease's role is given.",
                    [
                        .init(
                            "roles", .array(of: PostgresRoleName.schema, minItems: 1, maxItems: 32),
                            "Existing roles the lease's role becomes a member of (GRANT role TO lease)."),
                        .init(
                            "schemas",
                            .array(
                                of: .object(
                                    "Privileges in one schema.",
                                    [
                                        .init("name", PostgresRoleName.schema, required: true, "The schema."),
                                        .init(
                                            "privileges",
                                            .array(of: .string(choices: schemaPrivileges), minItems: 1, maxItems: 2),
                                            "On the schema: USAGE, CREATE."),
                                        .init(
                                            "tables",
                                            .array(of: .string(choices: tablePrivileges), minItems: 1, maxItems: 7),
                                            "On every table in the schema: SELECT, INSERT, UPDATE, DELETE, ..."),
                                        .init(
                                            "sequences",
                                            .array(of: .string(choices: sequencePrivileges), minItems: 1, maxItems: 3),
                                            "On every sequence in the schema: USAGE, SELECT, UPDATE."),
                                    ]), minItems: 1, maxItems: 32),
                            "Privileges per schema."),
                    ]), required: true, "Memberships and privileges of each lease's role."),
        ])

    var host: String
    var port: Int
    var database: String
    var sslmode: SSLMode
    var ca: String?
    var adminUser: String
    var adminPassword: String?
    var adminPasswordEncrypted: EncryptedValue?
    var ttlSeconds: Int
    var grants: Grants

    func admitted(_ admission: Admission<CredentialProviderSpec>, current: Self?) async throws -> Self {
        try checkGrants()
        if sslmode == .disable, ca != nil {
            throw ProblemDetails.invalidField("spec.ca", "spec.ca applies to sslmode verify-full only")
        }
        if let ca, (try? NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))?.isEmpty != false {
            throw ProblemDetails.invalidField("spec.ca", "spec.ca must hold PEM certificates")
        }
        if let adminPassword, adminPassword.isEmpty || adminPassword.utf8.contains(0) {
            throw ProblemDetails.invalidField("spec.adminPassword", "spec.adminPassword must be non-empty, without NUL")
        }
        var stored = self
        stored.adminPassword = nil
        stored.adminPasswordEncrypted = try await TenantSecret.admit(
            clear: adminPassword, encrypted: adminPasswordEncrypted, current: current?.adminPasswordEncrypted,
            field: "adminPassword", admission: admission)
        return stored
    }

    /// Something to grant, each schema once, each privilege once.
    private func checkGrants() throws {
        let schemas = grants.schemas ?? []
        guard !(grants.roles ?? []).isEmpty || !schemas.isEmpty else {
            throw ProblemDetails.invalidField(
                "spec.grants", "spec.grants must give the lease's role something: roles or schemas")
        }
        if let roles = grants.roles, Set(roles).count != roles.count {
            throw ProblemDetails.invalidField("spec.grants.roles", "spec.grants.roles names a role twice")
        }
        var seen = Set<String>()
        for (index, schema) in schemas.enumerated() {
            let path = "spec.grants.schemas[\(index)]"
            guard seen.insert(schema.name).inserted else {
                throw ProblemDetails.invalidField("\(path).name", "schema \(schema.name) is given twice")
            }
            guard schema.privileges != nil || schema.tables != nil || schema.sequences != nil else {
                throw ProblemDetails.invalidField(path, "\(path) grants nothing: give privileges, tables or sequences")
            }
            for (field, list) in [
                ("privileges", schema.privileges), ("tables", schema.tables), ("sequences", schema.sequences),
            ]
            where list.map({ Set($0).count != $0.count }) ?? false {
                throw ProblemDetails.invalidField("\(path).\(field)", "\(path).\(field) names a privilege twice")
            }
        }
    }

    /// The host, port and database, as a lease records it.
    var address: String { "\(host):\(port)/\(database)" }
}
