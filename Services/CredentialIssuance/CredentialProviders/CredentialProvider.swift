import Foundation
import SigilCrypto
import SigilEvents
import SigilService

/// A credential provider: where the credential an edge injects comes from. One type today; each type is a case with
/// its own spec and schema.
enum CredentialProviderSpec: VariantResourceSpec {
    case staticValue(StaticCredential)

    static let kind = ResourceKind.credentialProvider
    static let summary = "Where the credential an edge injects comes from, and how it is injected."
    static let variants: [SpecVariant<Self>] = [.init(StaticCredential.type, StaticCredential.schema, Self.staticValue)]

    init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    var variant: (type: String, spec: any Encodable) {
        switch self {
        case .staticValue(let spec): return (StaticCredential.type, spec)
        }
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        switch self {
        case .staticValue(let spec):
            var current: StaticCredential?
            if case .staticValue(let stored) = admission.current?.spec { current = stored }
            return .staticValue(try await spec.admitted(admission, current: current))
        }
    }
}

/// Type `static`: one API key or token, stored only encrypted with the tenant's data key, injected as a named
/// header or as `Authorization: Bearer`.
struct StaticCredential: Codable, Sendable, Equatable {
    static let type = "static"

    enum Injection: String, Codable, Sendable {
        case header, bearer
    }

    static let schema = SpecSchema.ObjectSchema(
        "One API key or token, encrypted at rest.",
        [
            .init("type", .string(choices: [type]), required: true, "The credential provider's type."),
            .init(
                "inject", .string(choices: ["header", "bearer"]), default: "bearer",
                "`bearer`: Authorization: Bearer <value>; `header`: the value in the named header."),
            .init(
                "header",
                .string(
                    maxLength: 256,
                    pattern: (regex: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", meaning: "an HTTP header name")),
                "The header, when inject is `header`."),
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
    var value: String?
    var valueEncrypted: EncryptedValue?

    /// The additional data binding a ciphertext to its tenant's resource, so it cannot be moved to another one.
    static func field(_ name: String) -> String { "CredentialProvider/\(name)/value" }

    func admitted(_ admission: Admission<CredentialProviderSpec>, current: StaticCredential?) async throws -> Self {
        if inject == .header, header == nil {
            throw ProblemDetails.invalidField("spec.header", "spec.header is required when spec.inject is header")
        }
        if inject == .bearer, header != nil {
            throw ProblemDetails.invalidField("spec.header", "spec.header is only for spec.inject: header")
        }
        let keyring = try IssuanceParts.keyring.get(admission.context)
        let field = Self.field(admission.name)
        var stored = StaticCredential(inject: inject, header: header, value: nil, valueEncrypted: nil)
        switch (value, valueEncrypted) {
        case (let secret?, nil):
            // The same secret again keeps its ciphertext, so re-applying a file changes nothing.
            if let existing = current?.valueEncrypted,
                (try? keyring.decrypt(existing, tenant: admission.tenant, field: field)) == Array(secret.utf8)
            {
                stored.valueEncrypted = existing
            } else {
                let key = try await keyring.currentKey(tenant: admission.tenant, context: admission.context)
                stored.valueEncrypted = try key.encrypt(Array(secret.utf8), field: field)
            }
        case (nil, let encrypted?):
            guard (try? keyring.decrypt(encrypted, tenant: admission.tenant, field: field)) != nil else {
                throw ProblemDetails.invalidField(
                    "spec.valueEncrypted", "spec.valueEncrypted was not encrypted for this credential provider")
            }
            stored.valueEncrypted = encrypted
        default:
            throw ProblemDetails.invalidField(
                "spec.value", "give exactly one of spec.value (the secret) and spec.valueEncrypted (as stored)")
        }
        return stored
    }
}

/// What the edge receives, sealed: how to inject and the value.
struct IssuedCredential: Codable, Sendable {
    let inject: String
    let header: String?
    let value: String
}
