import Foundation
import SigilCrypto
import SigilEvents
import SigilService

/// A credential provider: where the credential an edge injects comes from. Each type is a case with its own spec and
/// schema.
enum CredentialProviderSpec: VariantResourceSpec {
    case staticValue(StaticCredential)
    case jwt(JWTCredential)
    case oauth2(OAuth2ClientCredentials)
    case awsWebIdentity(AWSWebIdentityCredential)
    case x509(X509Credential)
    case postgresStatic(PostgresStaticCredential)
    case postgresDynamic(PostgresDynamicCredential)

    static let kind = ResourceKind.credentialProvider
    static let summary = "Where the credential an edge injects comes from, and how it is injected."
    static let variants: [SpecVariant<Self>] = [
        .init(StaticCredential.type, StaticCredential.schema, Self.staticValue),
        .init(JWTCredential.type, JWTCredential.schema, Self.jwt),
        .init(OAuth2ClientCredentials.type, OAuth2ClientCredentials.schema, Self.oauth2),
        .init(AWSWebIdentityCredential.type, AWSWebIdentityCredential.schema, Self.awsWebIdentity),
        .init(X509Credential.type, X509Credential.schema, Self.x509),
        .init(PostgresStaticCredential.type, PostgresStaticCredential.schema, Self.postgresStatic),
        .init(PostgresDynamicCredential.type, PostgresDynamicCredential.schema, Self.postgresDynamic),
    ]

    init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    var variant: (type: String, spec: any Encodable) {
        switch self {
        case .staticValue(let spec): return (StaticCredential.type, spec)
        case .jwt(let spec): return (JWTCredential.type, spec)
        case .oauth2(let spec): return (OAuth2ClientCredentials.type, spec)
        case .awsWebIdentity(let spec): return (AWSWebIdentityCredential.type, spec)
        case .x509(let spec): return (X509Credential.type, spec)
        case .postgresStatic(let spec): return (PostgresStaticCredential.type, spec)
        case .postgresDynamic(let spec): return (PostgresDynamicCredential.type, spec)
        }
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        switch self {
        case .staticValue(let spec):
            var current: StaticCredential?
            if case .staticValue(let stored) = admission.current?.spec { current = stored }
            return .staticValue(try await spec.admitted(admission, current: current))
        case .jwt(let spec):
            return .jwt(try spec.admitted())
        case .oauth2(let spec):
            var current: OAuth2ClientCredentials?
            if case .oauth2(let stored) = admission.current?.spec { current = stored }
            return .oauth2(try await spec.admitted(admission, current: current))
        case .awsWebIdentity(let spec):
            return .awsWebIdentity(try spec.admitted())
        case .x509(let spec):
            var current: X509Credential?
            if case .x509(let stored) = admission.current?.spec { current = stored }
            return .x509(try await spec.admitted(admission, current: current))
        case .postgresStatic(let spec):
            var current: PostgresStaticCredential?
            if case .postgresStatic(let stored) = admission.current?.spec { current = stored }
            return .postgresStatic(try await spec.admitted(admission, current: current))
        case .postgresDynamic(let spec):
            var current: PostgresDynamicCredential?
            if case .postgresDynamic(let stored) = admission.current?.spec { current = stored }
            return .postgresDynamic(try await spec.admitted(admission, current: current))
        }
    }
}

/// Type `static`: one API key, token or `user:password`, stored only encrypted with the tenant's data key, injected
/// as `Authorization: Bearer`, a named header (with an optional prefix), `Authorization: Basic`, or a query parameter.
struct StaticCredential: Codable, Sendable, Equatable {
    static let type = "static"

    enum Injection: String, Codable, Sendable, CaseIterable {
        case header, bearer, basic, query
    }

    static let schema = SpecSchema.ObjectSchema(
        "One API key or token, encrypted at rest.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "inject", .string(choices: Injection.allCases.map(\.rawValue)), default: "bearer",
                "`bearer`: Authorization: Bearer <value>; `header`: the value in the named header (after `prefix`); "
                    + "`basic`: the value is user:password, sent as Authorization: Basic; `query`: the value as the "
                    + "query parameter `parameter` (replacing any the workload sent)."),
            .init(
                "header",
                .string(
                    maxLength: 256,
                    pattern: (regex: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", meaning: "an HTTP header name")),
                "The header, when inject is `header`."),
            .init(
                "prefix", .string(maxLength: 64, pattern: (regex: "^[\\x20-\\x7E]*$", meaning: "printable ASCII")),
                "Written before the value in the header (`Token `, `ApiKey `), when inject is `header`."),
            .init(
                "parameter",
                .string(
                    maxLength: 128,
                    pattern: (regex: "^[A-Za-z0-9._~-]+$", meaning: "a query parameter name (letters, digits, ._~-)")),
                "The query parameter, when inject is `query`."),
            .init(
                "value", .string(maxLength: 8_192), writeOnly: true,
                "The secret; encrypted at admission, never shown again."),
            .init(
                "valueEncrypted", .string(maxLength: 16_384), readOnly: true,
                "The secret as stored (encrypted with the tenant's key). Accepted back unchanged, so that "
                    + "`sigil get -o yaml` output can be applied again."),
        ])

    var inject: Injection
    var header: String?
    var prefix: String?
    var parameter: String?
    var value: String?
    var valueEncrypted: EncryptedValue?

    init(
        inject: Injection, header: String? = nil, prefix: String? = nil, parameter: String? = nil,
        value: String? = nil, valueEncrypted: EncryptedValue? = nil
    ) {
        self.inject = inject
        self.header = header
        self.prefix = prefix
        self.parameter = parameter
        self.value = value
        self.valueEncrypted = valueEncrypted
    }

    /// The additional data binding a ciphertext to its tenant's resource, so it cannot be moved to another one.
    static func field(_ name: String) -> String { TenantSecret.binding(provider: name, field: "value") }

    func admitted(_ admission: Admission<CredentialProviderSpec>, current: StaticCredential?) async throws -> Self {
        try checkInjection()
        var stored = StaticCredential(inject: inject, header: header, prefix: prefix, parameter: parameter)
        stored.valueEncrypted = try await TenantSecret.admit(
            clear: value, encrypted: valueEncrypted, current: current?.valueEncrypted, field: "value",
            admission: admission)
        return stored
    }

    /// Each injection's own fields, and no other's; a basic credential's value is `user:password`.
    func checkInjection() throws {
        let fields: [(String, Any?, Injection)] = [
            ("header", header, .header), ("prefix", prefix, .header), ("parameter", parameter, .query),
        ]
        for (name, given, owner) in fields where given != nil && inject != owner {
            throw ProblemDetails.invalidField("spec.\(name)", "spec.\(name) is only for spec.inject: \(owner.rawValue)")
        }
        if inject == .header, header == nil {
            throw ProblemDetails.invalidField("spec.header", "spec.header is required when spec.inject is header")
        }
        if inject == .query, parameter == nil {
            throw ProblemDetails.invalidField("spec.parameter", "spec.parameter is required when spec.inject is query")
        }
        if inject == .basic, let value, value.firstIndex(of: ":").map({ $0 == value.startIndex }) ?? true {
            throw ProblemDetails.invalidField(
                "spec.value", "spec.value must be user:password (a user name, a colon, the password) for basic")
        }
    }
}

/// What the edge receives, sealed: how to inject, and the value or the AWS credentials that sign.
struct IssuedCredential: Codable, Sendable {
    let inject: String
    var header: String? = nil
    var prefix: String? = nil
    var parameter: String? = nil
    var value: String? = nil
    var aws: AWSSigningCredentials? = nil
    /// An `x509` credential: the certificate chain (leaf, CA) and its key, PEM.
    var certificateChain: String? = nil
    var privateKey: String? = nil
    /// A PostgreSQL login (`inject: postgres`): the role; `value` is its password; a lease's role is for `database`.
    var user: String? = nil
    var database: String? = nil
}
