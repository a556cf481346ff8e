import SigilCrypto
import SigilService

/// Type `postgres-static`: one PostgreSQL user and its password (encrypted with the tenant's data key), with which the
/// edge logs in to a `postgres` server workload for the workload (SCRAM-SHA-256 or MD5); the workload never sees it.
struct PostgresStaticCredential: Codable, Sendable, Equatable {
    static let type = "postgres-static"

    static let schema = SpecSchema.ObjectSchema(
        "A stored PostgreSQL user and password the edge logs in with; the password encrypted at rest.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init("user", PostgresRoleName.schema, required: true, "The PostgreSQL role the edge logs in as."),
            .init(
                "password", .string(maxLength: 1_024), writeOnly: true,
                "The role's password; encrypted at admission, never shown again."),
            .init(
                "passwordEncrypted", .string(maxLength: 4_096), readOnly: true,
                "The password as stored (encrypted with the tenant's key). Accepted back unchanged."),
        ])

    var user: String
    var password: String?
    var passwordEncrypted: EncryptedValue?

    func admitted(_ admission: Admission<CredentialProviderSpec>, current: Self?) async throws -> Self {
        if let password, password.isEmpty || password.utf8.contains(0) {
            throw ProblemDetails.invalidField("spec.password", "spec.password must be non-empty, without NUL")
        }
        var stored = Self(user: user)
        stored.passwordEncrypted = try await TenantSecret.admit(
            clear: password, encrypted: passwordEncrypted, current: current?.passwordEncrypted, field: "password",
            admission: admission)
        return stored
    }
}

/// A PostgreSQL role name as Sigil accepts one: what needs no quoting surprises (letters, digits, `_`, `-`, `.`),
/// 1 to 63 bytes (PostgreSQL's limit).
enum PostgresRoleName {
    static let schema = SpecSchema.string(
        maxLength: 63,
        pattern: (
            regex: "^[A-Za-z_][A-Za-z0-9_.-]{0,62}$",
            meaning: "a role name: a letter or _, then letters, digits, _, - or . (up to 63)"
        ))
}
