import Foundation
import JWTKit
import SigilEvents
import SigilService

/// The settings every JWT trust provider type has: whose tokens (issuer, audiences), signed by which keys (one key
/// source), with which algorithms, and how strictly their times are read.
package struct JWTTrustSpec: Codable, Sendable, Equatable {
    /// Never accepted, whatever a provider says: unsigned tokens and HMAC (which a public key would "verify").
    static let forbiddenAlgorithms: Set<String> = ["none", "HS256", "HS384", "HS512"]
    static let supportedAlgorithms = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]

    /// The schema of one JWT type: the shared fields, with the type's issuer preset where it has one.
    static func schema(_ profile: JWTProfile) -> SpecSchema.ObjectSchema {
        let issuer: SpecSchema.Property =
            if let preset = profile.presetIssuer {
                .init(
                    "issuer", .string(maxLength: 2048), default: .string(preset),
                    "The tokens' `iss`, exactly (default: \(preset)\(profile == .gitlabCI ? "; a self-managed GitLab's URL" : ""))."
                )
            } else {
                .init("issuer", .string(maxLength: 2048), required: true, "The tokens' `iss`, exactly.")
            }
        let discoveryNote =
            profile.presetIssuer == nil
            ? "" : " With no key source given, discovery is used (the issuer publishes one)."
        return SpecSchema.ObjectSchema(
            profile.summary,
            [
                .init("type", .string(choices: [profile.type]), required: true, "The trust provider's type."),
                issuer,
                .init(
                    "audiences", .array(of: .string(maxLength: 512), minItems: 1, maxItems: 16), required: true,
                    "A token's `aud` must hold one of these."),
                .init("jwks", .json(maxBytes: 64 * 1024), "The issuer's JSON Web Key Set, inline."),
                .init(
                    "jwksFile",
                    .string(maxLength: 4096, pattern: (regex: "^/.*$", meaning: "an absolute path")),
                    "Or: an absolute path to the JWKS under the attestation service's SIGIL_ATTEST_JWKS_DIR, read at "
                        + "verification (rotation needs no reconfiguration)."),
                .init(
                    "jwksURL",
                    .string(maxLength: 2048, pattern: (regex: "^https?://[^ ]+$", meaning: "an http(s) URL")),
                    "Or: where the JWKS is published (https; http only to this machine), fetched and cached."),
                .init(
                    "oidcDiscovery", .boolean,
                    "Or: find the JWKS through the issuer's OpenID discovery document "
                        + "(`{issuer}/.well-known/openid-configuration`).\(discoveryNote)"),
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
                    "Accept a token with no `kid` by trying each of the set's keys of its algorithm (off: a token "
                        + "must name its key)."),
            ])
    }

    package var issuer: String
    package var audiences: [String]
    package var jwks: JSONValue?
    package var jwksFile: String?
    package var jwksURL: String?
    package var oidcDiscovery: Bool
    package var allowedAlgorithms: [String]
    package var clockSkewSeconds: Int
    package var maxTokenLifetimeSeconds: Int
    package var acceptTokensWithoutKeyID: Bool

    private enum CodingKeys: String, CodingKey {
        case issuer, audiences, jwks, jwksFile, jwksURL, oidcDiscovery, allowedAlgorithms, clockSkewSeconds
        case maxTokenLifetimeSeconds, acceptTokensWithoutKeyID
    }

    /// Admission fills every default; the fields added later get theirs here too, so a provider stored before them
    /// still reads.
    package init(from decoder: any Decoder) throws {
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

    func admitted(_ profile: JWTProfile, keyFileDirectory: String?) async throws -> Self {
        var spec = self
        let given = [jwks != nil, jwksFile != nil, jwksURL != nil, oidcDiscovery].filter { $0 }.count
        // An issuer that publishes discovery (GitHub, GitLab) needs no key source spelled out.
        if given == 0, profile.presetIssuer != nil { spec.oidcDiscovery = true }
        guard given == 1 || (given == 0 && spec.oidcDiscovery) else {
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
            return spec
        }
        if spec.oidcDiscovery {
            do {
                _ = try RemoteKeySets.allowedURL(issuer)
            } catch {
                throw ProblemDetails.invalidField(
                    "spec.oidcDiscovery",
                    "spec.oidcDiscovery needs an https issuer (the discovery document is under it)")
            }
            return spec
        }
        if let jwks {
            try await Self.checkInline(jwks)
        } else if let file = jwksFile {
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
        }
        return spec
    }

    /// An inline key set: public keys only, and usable by jwt-kit.
    private static func checkInline(_ jwks: JSONValue) async throws {
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
    }
}
