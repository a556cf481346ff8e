import SigilCrypto
import SigilService

/// Type `oauth2-client-credentials` (RFC 6749 §4.4): sigil-issue obtains an access token from the authorization
/// server with the provider's client id and secret (the secret encrypted with the tenant's data key), keeps it until
/// shortly before it expires — shared by every edge of the tenant, sealed to each — and the edge injects it.
struct OAuth2ClientCredentials: Codable, Sendable, Equatable {
    static let type = "oauth2-client-credentials"

    /// How the client authenticates at the token endpoint (RFC 6749 §2.3.1).
    enum ClientAuthentication: String, Codable, Sendable, CaseIterable {
        /// HTTP Basic with the form-encoded id and secret (`client_secret_basic`).
        case basic
        /// `client_id` and `client_secret` in the form body (`client_secret_post`).
        case body
    }

    enum Injection: String, Codable, Sendable, CaseIterable {
        case bearer, header
    }

    static let schema = SpecSchema.ObjectSchema(
        "An OAuth 2.0 client-credentials grant: access tokens from the authorization server, cached until near expiry.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "tokenURL", .string(maxLength: 2048), required: true,
                "The token endpoint (https; http only to this host)."),
            .init("clientID", .string(maxLength: 256), required: true, "The client's id."),
            .init(
                "clientSecret", .string(maxLength: 1_024), writeOnly: true,
                "The client's secret; encrypted at admission, never shown again."),
            .init(
                "clientSecretEncrypted", .string(maxLength: 4_096), readOnly: true,
                "The secret as stored (encrypted with the tenant's key). Accepted back unchanged."),
            .init(
                "clientAuthentication", .string(choices: ClientAuthentication.allCases.map(\.rawValue)),
                default: "basic", "`basic` (client_secret_basic) or `body` (client_secret_post)."),
            .init(
                "scopes", .array(of: .string(maxLength: 256), minItems: 1, maxItems: 32),
                "Scopes to ask for (space-joined in `scope`)."),
            .init("audience", .string(maxLength: 512), "`audience` (as Auth0 and others take it)."),
            .init("resource", .string(maxLength: 2048), "`resource` (RFC 8707)."),
            .init(
                "inject", .string(choices: Injection.allCases.map(\.rawValue)), default: "bearer",
                "`bearer`: Authorization: Bearer <token>; `header`: the token in the named header (after `prefix`)."),
            .init("header", InjectionSchema.header, "The header, when inject is `header`."),
            .init("prefix", InjectionSchema.prefix, "Written before the token in the header, when inject is `header`."),
        ])

    var tokenURL: String
    var clientID: String
    var clientSecret: String?
    var clientSecretEncrypted: EncryptedValue?
    var clientAuthentication: ClientAuthentication
    var scopes: [String]?
    var audience: String?
    var resource: String?
    var inject: Injection
    var header: String?
    var prefix: String?

    init(
        tokenURL: String, clientID: String, clientSecret: String? = nil, clientSecretEncrypted: EncryptedValue? = nil,
        clientAuthentication: ClientAuthentication = .basic, scopes: [String]? = nil, audience: String? = nil,
        resource: String? = nil, inject: Injection = .bearer, header: String? = nil, prefix: String? = nil
    ) {
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientSecretEncrypted = clientSecretEncrypted
        self.clientAuthentication = clientAuthentication
        self.scopes = scopes
        self.audience = audience
        self.resource = resource
        self.inject = inject
        self.header = header
        self.prefix = prefix
    }

    func admitted(
        _ admission: Admission<CredentialProviderSpec>, current: OAuth2ClientCredentials?
    ) async throws -> Self {
        try OutboundURL.check(tokenURL, field: "spec.tokenURL")
        for (index, scope) in (scopes ?? []).enumerated()
        where scope.isEmpty || scope.contains(where: { $0 == " " || $0.isNewline }) {
            throw ProblemDetails.invalidField(
                "spec.scopes[\(index)]", "spec.scopes[\(index)] must be one scope, without spaces")
        }
        try InjectionSchema.check(bearer: inject == .bearer, header: header, prefix: prefix)
        var stored = self
        stored.clientSecret = nil
        stored.clientSecretEncrypted = try await TenantSecret.admit(
            clear: clientSecret, encrypted: clientSecretEncrypted, current: current?.clientSecretEncrypted,
            field: "clientSecret", admission: admission)
        return stored
    }
}

/// The header fields every injecting provider shares.
enum InjectionSchema {
    static let header = SpecSchema.string(
        maxLength: 256, pattern: (regex: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", meaning: "an HTTP header name"))
    static let prefix = SpecSchema.string(
        maxLength: 64, pattern: (regex: "^[\\x20-\\x7E]*$", meaning: "printable ASCII"))

    /// `header` (and `prefix`) only, and required, when injecting into a named header.
    static func check(bearer: Bool, header: String?, prefix: String?) throws {
        if !bearer, header == nil {
            throw ProblemDetails.invalidField("spec.header", "spec.header is required when spec.inject is header")
        }
        if bearer, header != nil || prefix != nil {
            throw ProblemDetails.invalidField(
                header != nil ? "spec.header" : "spec.prefix", "spec.header and spec.prefix are only for inject: header"
            )
        }
    }
}
