import Foundation
import JWTKit
import SigilEvents
import SigilService

/// A trust provider of type `kubernetes-service-account`: tokens from one issuer, signed by keys of its JWKS.
struct TrustProvider: Sendable {
    static let type = "kubernetes-service-account"
    /// Never accepted, whatever a provider says: unsigned tokens and HMAC (which a public key would "verify").
    static let forbiddenAlgorithms: Set<String> = ["none", "HS256", "HS384", "HS512"]
    static let supportedAlgorithms: Set<String> = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
    ]

    let name: String
    let issuer: String
    let audiences: [String]
    let allowedAlgorithms: Set<String>
    let clockSkew: TimeInterval
    /// Inline JWKS, or a file read at verification time (so key rotation needs no reconfiguration).
    let jwks: JWKSSource

    enum JWKSSource: Sendable {
        case inline(String)
        case file(String)
    }

    /// Validates an admin's spec and returns the normalized spec that is stored.
    static func validate(_ spec: JSONValue) async throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly([
            "type", "issuer", "audiences", "jwks", "jwksFile", "allowedAlgorithms", "clockSkewSeconds",
        ])
        _ = try reader.oneOf("type", [type])
        let issuer = try reader.string("issuer")
        let audiences = try reader.stringArray("audiences")
        let algorithms = try reader.stringArray("allowedAlgorithms", default: ["RS256", "ES256"])
        for algorithm in algorithms where !supportedAlgorithms.contains(algorithm) {
            throw ProblemDetails.invalidField(
                reader.field("allowedAlgorithms"),
                forbiddenAlgorithms.contains(algorithm)
                    ? "\(algorithm) is never accepted for workload tokens"
                    : "\(algorithm) is not a supported signature algorithm"
            )
        }
        let skew = try reader.int("clockSkewSeconds", in: 0...300, default: 30)
        var normalized: [String: JSONValue] = [
            "type": .string(type), "issuer": .string(issuer), "audiences": .array(audiences.map(JSONValue.string)),
            "allowedAlgorithms": .array(algorithms.map(JSONValue.string)), "clockSkewSeconds": .number(Double(skew)),
        ]
        switch (spec["jwks"], try reader.optionalString("jwksFile")) {
        case (.some(let jwks), nil):
            let text = String(decoding: try EventJSON.encoder.encode(jwks), as: UTF8.self)
            do {
                let parsed = try JSONDecoder().decode(JWKS.self, from: Data(text.utf8))
                guard !parsed.keys.isEmpty else {
                    throw ProblemDetails.invalidField("spec.jwks", "spec.jwks has no keys")
                }
                _ = try await JWTKeyCollection().add(jwks: parsed)
            } catch let problem as ProblemDetails {
                throw problem
            } catch {
                throw ProblemDetails.invalidField("spec.jwks", "spec.jwks is not a usable JSON Web Key Set")
            }
            normalized["jwks"] = jwks
        case (nil, .some(let file)):
            guard file.hasPrefix("/") else {
                throw ProblemDetails.invalidField("spec.jwksFile", "spec.jwksFile must be an absolute path")
            }
            normalized["jwksFile"] = .string(file)
        default:
            throw ProblemDetails.invalidField("spec.jwks", "give exactly one of spec.jwks (inline) and spec.jwksFile")
        }
        return .object(normalized)
    }

    /// Reads a stored (already validated) spec.
    init?(_ resource: StoredResource) {
        let spec = resource.spec
        guard spec["type"]?.stringValue == Self.type, let issuer = spec["issuer"]?.stringValue,
            case .array(let audiences) = spec["audiences"], case .array(let algorithms) = spec["allowedAlgorithms"],
            case .number(let skew) = spec["clockSkewSeconds"]
        else { return nil }
        self.name = resource.name
        self.issuer = issuer
        self.audiences = audiences.compactMap(\.stringValue)
        self.allowedAlgorithms = Set(algorithms.compactMap(\.stringValue)).subtracting(Self.forbiddenAlgorithms)
        self.clockSkew = skew
        if let jwks = spec["jwks"], let data = try? EventJSON.encoder.encode(jwks) {
            self.jwks = .inline(String(decoding: data, as: UTF8.self))
        } else if let file = spec["jwksFile"]?.stringValue {
            self.jwks = .file(file)
        } else {
            return nil
        }
    }

    func keys() async throws -> JWTKeyCollection {
        switch jwks {
        case .inline(let json): return try await JWTKeyCollection().add(jwksJSON: json)
        case .file(let path):
            return try await JWTKeyCollection().add(jwksJSON: String(contentsOfFile: path, encoding: .utf8))
        }
    }
}
