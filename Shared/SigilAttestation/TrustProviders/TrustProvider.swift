import Foundation
import JWTKit
import SigilEvents
import SigilService
import Synchronization

/// A trust provider as the verifiers use it, built once per version of the resource (`TrustProviderCache`): an
/// inline key set or a CA bundle is parsed then, not per attestation.
package struct TrustProvider: Sendable {
    package let name: String
    package let type: String
    package let verification: Verification

    package enum Verification: Sendable {
        case jwt(JWTIssuer)
        case x509(X509Authority)
        /// Join tokens: the longest life one may be given.
        case joinToken(maxTTLSeconds: Int)
        case awsInstanceIdentity(AWSIdentityAuthority)
    }

    /// The verifiers' view of an admitted trust provider.
    package init(_ resource: Resource<TrustProviderSpec>) {
        name = resource.name
        type = resource.spec.variant.type
        switch resource.spec {
        case .kubernetesServiceAccount(let spec), .oidcIDToken(let spec), .githubActions(let spec), .gitlabCI(let spec):
            verification = .jwt(JWTIssuer(resource.spec.jwt!.profile, spec))
        case .x509(let spec):
            verification = .x509(X509Authority(spec))
        case .joinToken(let spec):
            verification = .joinToken(maxTTLSeconds: spec.maxTTLSeconds)
        case .awsInstanceIdentity(let spec):
            verification = .awsInstanceIdentity(AWSIdentityAuthority(spec))
        }
    }

    package var x509Authority: X509Authority? {
        if case .x509(let authority) = verification { return authority }
        return nil
    }

    package var jwtIssuer: JWTIssuer? {
        if case .jwt(let issuer) = verification { return issuer }
        return nil
    }
}

/// Tokens from one issuer, signed by keys of its JWKS, read as one JWT type.
package struct JWTIssuer: Sendable {
    let profile: JWTProfile
    let issuer: String
    let audiences: [String]
    let allowedAlgorithms: Set<String>
    let clockSkew: TimeInterval
    let maxTokenLifetime: Int
    let acceptTokensWithoutKeyID: Bool
    /// Inline keys (parsed), or a file read at verification time (so key rotation needs no reconfiguration).
    let jwks: JWKSSource
    /// Each key made ready to verify once, reused by every token that names it.
    let verificationKeys = VerificationKeys()

    enum JWKSSource: Sendable {
        case inline([JWK])
        case file(String)
        case remote(RemoteKeySets.Source)
    }

    init(_ profile: JWTProfile, _ spec: JWTTrustSpec) {
        self.profile = profile
        issuer = spec.issuer
        audiences = spec.audiences
        allowedAlgorithms = Set(spec.allowedAlgorithms).subtracting(JWTTrustSpec.forbiddenAlgorithms)
        clockSkew = TimeInterval(spec.clockSkewSeconds)
        maxTokenLifetime = spec.maxTokenLifetimeSeconds
        acceptTokensWithoutKeyID = spec.acceptTokensWithoutKeyID
        if let jwks = spec.jwks {
            // Admission checked that it decodes; an unreadable set (impossible) trusts no key.
            self.jwks = .inline((try? jwks.decode(JWKS.self))?.keys ?? [])
        } else if let url = spec.jwksURL.flatMap({ try? RemoteKeySets.allowedURL($0) }) {
            self.jwks = .remote(.jwks(url))
        } else if spec.oidcDiscovery {
            self.jwks = .remote(.discovery(issuer: spec.issuer))
        } else {
            self.jwks = .file(spec.jwksFile ?? "/")
        }
    }

    /// The keys to check a token with. A key file is read only where it is (symbolic links resolved) under the
    /// configured directory, whatever the resource says: the directory may have changed since admission.
    func keys(_ remote: RemoteKeySets, keyFileDirectory: String?) async throws -> [JWK] {
        switch jwks {
        case .inline(let keys): return keys
        case .remote(let source): return try await remote.keys(source)
        case .file(let path):
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            guard let keyFileDirectory,
                KeyFileDirectory.contains(
                    resolved, directory: URL(fileURLWithPath: keyFileDirectory).resolvingSymlinksInPath().path)
            else { throw CocoaError(.fileReadNoPermission) }
            let data = try Data(contentsOf: URL(fileURLWithPath: resolved))
            guard data.count <= 64 * 1024 else { throw CocoaError(.fileReadTooLarge) }
            return try JSONDecoder().decode(JWKS.self, from: data).keys
        }
    }
}

/// Each key's jwt-kit algorithm, by the key's id and material: building one parses the key (an EC point or RSA
/// modulus), which is worth doing once per key, not once per token.
final class VerificationKeys: Sendable {
    private let algorithms = Mutex<[String: any JWTAlgorithm]>([:])

    func algorithm(for key: JWK) async throws -> any JWTAlgorithm {
        let id = [key.keyIdentifier?.string, key.modulus, key.x, key.y, key.algorithm?.rawValue]
            .map { $0 ?? "" }.joined(separator: "|")
        if let cached = algorithms.withLock({ $0[id] }) { return cached }
        let algorithm = try await JWTKeyCollection().add(jwk: key, isDefault: true).getKey()
        algorithms.withLock { algorithms in
            if algorithms.count >= 256 { algorithms.removeAll() }  // keys rotate; old ones go
            algorithms[id] = algorithm
        }
        return algorithm
    }
}

/// Trust providers by tenant, name and resource version: an attestation reuses the provider (and its parsed keys)
/// until the resource changes.
package final class TrustProviderCache: Sendable {
    private let providers = Mutex<[String: TrustProvider]>([:])

    package init() {}

    package func providers(_ resources: [Resource<TrustProviderSpec>]) -> [TrustProvider] {
        providers.withLock { cache in
            let wanted = resources.map { ("\($0.metadata.tenant)/\($0.name)/\($0.metadata.resourceVersion)", $0) }
            if cache.count > 4 * max(wanted.count, 64) { cache.removeAll() }
            return wanted.map { key, resource in
                if let cached = cache[key] { return cached }
                let provider = TrustProvider(resource)
                cache[key] = provider
                return provider
            }
        }
    }
}
