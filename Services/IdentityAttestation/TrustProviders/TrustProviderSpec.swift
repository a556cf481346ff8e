import Foundation
import JWTKit
import SigilEvents
import SigilService

/// A trust provider: where workload evidence comes from and how it is checked. One type today; each type is a case
/// with its own spec and schema.
enum TrustProviderSpec: VariantResourceSpec {
    case kubernetesServiceAccount(KubernetesServiceAccountTrust)

    static let kind = ResourceKind.trustProvider
    static let summary = "Where workload evidence comes from and how it is verified."
    static let variants: [SpecVariant<Self>] = [
        .init(KubernetesServiceAccountTrust.type, KubernetesServiceAccountTrust.schema, Self.kubernetesServiceAccount)
    ]

    init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    var variant: (type: String, spec: any Encodable) {
        switch self {
        case .kubernetesServiceAccount(let spec): return (KubernetesServiceAccountTrust.type, spec)
        }
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        switch self {
        case .kubernetesServiceAccount(let spec): return .kubernetesServiceAccount(try await spec.admitted())
        }
    }
}

/// Type `kubernetes-service-account`: tokens from one cluster's issuer, signed by keys of its JWKS.
struct KubernetesServiceAccountTrust: Codable, Sendable, Equatable {
    static let type = "kubernetes-service-account"
    /// Never accepted, whatever a provider says: unsigned tokens and HMAC (which a public key would "verify").
    static let forbiddenAlgorithms: Set<String> = ["none", "HS256", "HS384", "HS512"]
    static let supportedAlgorithms = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]
    static let schema = SpecSchema.ObjectSchema(
        "Kubernetes service-account tokens of one cluster.",
        [
            .init("type", .string(choices: [type]), required: true, "The trust provider's type."),
            .init("issuer", .string(maxLength: 2048), required: true, "The tokens' `iss`, exactly."),
            .init(
                "audiences", .array(of: .string(maxLength: 512), minItems: 1, maxItems: 16), required: true,
                "A token's `aud` must hold one of these."),
            .init("jwks", .json(maxBytes: 64 * 1024), "The cluster's JSON Web Key Set, inline."),
            .init(
                "jwksFile",
                .string(maxLength: 4096, pattern: (regex: "^/.*$", meaning: "an absolute path")),
                "Or: an absolute path to the JWKS, read at verification (rotation needs no reconfiguration)."),
            .init(
                "allowedAlgorithms",
                .array(of: .string(choices: supportedAlgorithms), minItems: 1, maxItems: 10),
                default: ["RS256", "ES256"], "Signature algorithms accepted (never none or HMAC)."),
            .init(
                "clockSkewSeconds", .integer(minimum: 0, maximum: 300), default: 30,
                "Tolerance for exp, nbf and iat."),
        ])

    var issuer: String
    var audiences: [String]
    var jwks: JSONValue?
    var jwksFile: String?
    var allowedAlgorithms: [String]
    var clockSkewSeconds: Int

    func admitted() async throws -> Self {
        switch (jwks, jwksFile) {
        case (let jwks?, nil):
            do {
                let parsed = try jwks.decode(JWKS.self)
                guard !parsed.keys.isEmpty else {
                    throw ProblemDetails.invalidField("spec.jwks", "spec.jwks has no keys")
                }
                _ = try await JWTKeyCollection().add(jwks: parsed)
            } catch let problem as ProblemDetails {
                throw problem
            } catch {
                throw ProblemDetails.invalidField("spec.jwks", "spec.jwks is not a usable JSON Web Key Set")
            }
        case (nil, .some(let file)):
            guard !file.split(separator: "/").contains("..") else {
                throw ProblemDetails.invalidField("spec.jwksFile", "spec.jwksFile must not contain '..'")
            }
        default:
            throw ProblemDetails.invalidField("spec.jwks", "give exactly one of spec.jwks (inline) and spec.jwksFile")
        }
        return self
    }
}
