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
        case .kubernetesServiceAccount(let spec):
            let directory = try admission.context.configuration.source.directory(KeyFileDirectory.variable)
            return .kubernetesServiceAccount(try await spec.admitted(keyFileDirectory: directory))
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
                "Or: an absolute path to the JWKS under the attestation service's SIGIL_ATTEST_JWKS_DIR, read at "
                    + "verification (rotation needs no reconfiguration)."),
            .init(
                "jwksURL", .string(maxLength: 2048, pattern: (regex: "^https?://[^ ]+$", meaning: "an http(s) URL")),
                "Or: where the JWKS is published (https; http only to this machine), fetched and cached."),
            .init(
                "oidcDiscovery", .boolean, default: false,
                "Or: find the JWKS through the issuer's OpenID discovery document (`{issuer}/.well-known/openid-configuration`)."
            ),
            .init(
                "allowedAlgorithms",
                .array(of: .string(choices: supportedAlgorithms), minItems: 1, maxItems: 10),
                default: ["RS256", "ES256"], "Signature algorithms accepted (never none or HMAC)."),
            .init(
                "clockSkewSeconds", .integer(minimum: 0, maximum: 300), default: 30,
                "Tolerance for exp, nbf and iat."),
            .init(
                "maxTokenLifetimeSeconds", .integer(minimum: 60, maximum: 7 * 86_400), default: 86_400,
                "Longest validity (exp - iat) a token may claim; a longer-lived token is refused."),
            .init(
                "acceptTokensWithoutKeyID", .boolean, default: false,
                "Accept a token with no `kid` by trying each of the set's keys of its algorithm (off: a token must "
                    + "name its key)."),
        ])

    var issuer: String
    var audiences: [String]
    var jwks: JSONValue?
    var jwksFile: String?
    var jwksURL: String?
    var oidcDiscovery: Bool
    var allowedAlgorithms: [String]
    var clockSkewSeconds: Int
    var maxTokenLifetimeSeconds: Int
    var acceptTokensWithoutKeyID: Bool

    private enum CodingKeys: String, CodingKey {
        case issuer, audiences, jwks, jwksFile, jwksURL, oidcDiscovery, allowedAlgorithms, clockSkewSeconds
        case maxTokenLifetimeSeconds, acceptTokensWithoutKeyID
    }

    /// Admission fills every default; the fields added later get theirs here too, so a provider stored before them
    /// still reads.
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try container.decode(String.self, forKey: .issuer)
        audiences = try container.decode([String].self, forKey: .audiences)
        jwks = try container.decodeIfPresent(JSONValue.self, forKey: .jwks)
        jwksFile = try container.decodeIfPresent(String.self, forKey: .jwksFile)
        jwksURL = try container.decodeIfPresent(String.self, forKey: .jwksURL)
        oidcDiscovery = try container.decodeIfPresent(Bool.self, forKey: .oidcDiscovery) ?? false
        allowedAlgorithms = try container.decode([String].self, forKey: .allowedAlgorithms)
        clockSkewSeconds = try container.decode(Int.self, forKey: .clockSkewSeconds)
        maxTokenLifetimeSeconds = try container.decodeIfPresent(Int.self, forKey: .maxTokenLifetimeSeconds) ?? 86_400
        acceptTokensWithoutKeyID = try container.decodeIfPresent(Bool.self, forKey: .acceptTokensWithoutKeyID) ?? false
    }

    /// Members of a JSON Web Key that only a private or symmetric key has (RFC 7518 section 6): a key set holding
    /// one was published by mistake, and its keys must not be trusted.
    static let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]

    func admitted(keyFileDirectory: String?) async throws -> Self {
        let sources = [jwks != nil, jwksFile != nil, jwksURL != nil, oidcDiscovery].filter { $0 }.count
        guard sources == 1 else {
            throw ProblemDetails.invalidField(
                "spec.jwks",
                "give exactly one of spec.jwks (inline), spec.jwksFile, spec.jwksURL and spec.oidcDiscovery")
        }
        if let jwksURL {
            do {
                _ = try RemoteKeySets.allowedURL(jwksURL)
            } catch {
                throw ProblemDetails.invalidField("spec.jwksURL", "spec.jwksURL: \(error)")
            }
            return self
        }
        if oidcDiscovery {
            do {
                _ = try RemoteKeySets.allowedURL(issuer)
            } catch {
                throw ProblemDetails.invalidField(
                    "spec.oidcDiscovery",
                    "spec.oidcDiscovery needs an https issuer (the discovery document is under it)")
            }
            return self
        }
        switch (jwks, jwksFile) {
        case (let jwks?, nil):
            if case .object(let set) = jwks, case .array(let keys)? = set["keys"] {
                for (index, key) in keys.enumerated() {
                    guard case .object(let members) = key else { continue }
                    if let member = members.keys.first(where: Self.privateMembers.contains) {
                        throw ProblemDetails.invalidField(
                            "spec.jwks.keys[\(index)].\(member)",
                            "spec.jwks.keys[\(index)] holds private or symmetric key material ('\(member)'); publish "
                                + "public keys only, and replace a key that was exposed")
                    }
                }
            }
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
            guard let keyFileDirectory else {
                throw ProblemDetails.invalidField(
                    "spec.jwksFile",
                    "key files are off on this attestation service: it has no \(KeyFileDirectory.variable)")
            }
            guard KeyFileDirectory.contains(file, directory: keyFileDirectory) else {
                throw ProblemDetails.invalidField(
                    "spec.jwksFile", "spec.jwksFile must be under \(KeyFileDirectory.variable) (\(keyFileDirectory))")
            }
        default:
            throw ProblemDetails.invalidField("spec.jwks", "give exactly one of spec.jwks (inline) and spec.jwksFile")
        }
        return self
    }
}

/// `SIGIL_ATTEST_JWKS_DIR`: the one directory trust providers' `jwksFile` may name files under (unset: no key files).
enum KeyFileDirectory {
    static let variable = "SIGIL_ATTEST_JWKS_DIR"

    /// Whether `path` (absolute, no `..`) lies under the directory, after symbolic links are resolved when reading.
    static func contains(_ path: String, directory: String) -> Bool {
        path.hasPrefix(directory + "/") && !path.split(separator: "/").contains("..")
    }
}
