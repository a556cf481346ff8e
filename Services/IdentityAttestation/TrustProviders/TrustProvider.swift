import Foundation
import JWTKit
import SigilEvents
import SigilService

/// A trust provider as the verifier uses it: tokens from one issuer, signed by keys of its JWKS.
struct TrustProvider: Sendable {
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

    /// The verifier's view of an admitted trust provider.
    init(_ resource: Resource<TrustProviderSpec>) {
        switch resource.spec {
        case .kubernetesServiceAccount(let spec):
            name = resource.name
            issuer = spec.issuer
            audiences = spec.audiences
            allowedAlgorithms = Set(spec.allowedAlgorithms).subtracting(
                KubernetesServiceAccountTrust.forbiddenAlgorithms)
            clockSkew = TimeInterval(spec.clockSkewSeconds)
            if let jwks = spec.jwks, let data = try? EventJSON.encoder.encode(jwks) {
                self.jwks = .inline(String(decoding: data, as: UTF8.self))
            } else {
                self.jwks = .file(spec.jwksFile ?? "/")
            }
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
