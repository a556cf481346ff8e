import Foundation
import SigilEvents
import SigilService

/// A trust provider: where workload evidence comes from and how it is checked. Each type is a case with its own spec
/// and schema; the four JWT types share one spec (`JWTTrustSpec`) and differ in presets and identifying claims.
package enum TrustProviderSpec: VariantResourceSpec {
    case kubernetesServiceAccount(JWTTrustSpec)
    case oidcIDToken(JWTTrustSpec)
    case githubActions(JWTTrustSpec)
    case gitlabCI(JWTTrustSpec)

    package static let kind = ResourceKind.trustProvider
    package static let summary = "Where workload evidence comes from and how it is verified."
    package static let variants: [SpecVariant<Self>] = [
        .init(JWTProfile.kubernetesServiceAccount.type, JWTTrustSpec.schema(.kubernetesServiceAccount)) {
            Self.kubernetesServiceAccount($0)
        },
        .init(JWTProfile.oidcIDToken.type, JWTTrustSpec.schema(.oidcIDToken)) { Self.oidcIDToken($0) },
        .init(JWTProfile.githubActions.type, JWTTrustSpec.schema(.githubActions)) { Self.githubActions($0) },
        .init(JWTProfile.gitlabCI.type, JWTTrustSpec.schema(.gitlabCI)) { Self.gitlabCI($0) },
    ]

    package init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    package func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    package var variant: (type: String, spec: any Encodable) {
        guard let (profile, spec) = jwt else { preconditionFailure("every trust provider type is listed") }
        return (profile.type, spec)
    }

    /// The JWT types: which one and its spec.
    package var jwt: (profile: JWTProfile, spec: JWTTrustSpec)? {
        switch self {
        case .kubernetesServiceAccount(let spec): (.kubernetesServiceAccount, spec)
        case .oidcIDToken(let spec): (.oidcIDToken, spec)
        case .githubActions(let spec): (.githubActions, spec)
        case .gitlabCI(let spec): (.gitlabCI, spec)
        }
    }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        let directory = try admission.context.configuration.source.directory(KeyFileDirectory.variable)
        switch self {
        case .kubernetesServiceAccount(let spec):
            return .kubernetesServiceAccount(try await spec.admitted(.kubernetesServiceAccount, keyFileDirectory: directory))
        case .oidcIDToken(let spec):
            return .oidcIDToken(try await spec.admitted(.oidcIDToken, keyFileDirectory: directory))
        case .githubActions(let spec):
            return .githubActions(try await spec.admitted(.githubActions, keyFileDirectory: directory))
        case .gitlabCI(let spec):
            return .gitlabCI(try await spec.admitted(.gitlabCI, keyFileDirectory: directory))
        }
    }
}

/// `SIGIL_ATTEST_JWKS_DIR`: the one directory trust providers' `jwksFile` may name files under (unset: no key files).
package enum KeyFileDirectory {
    package static let variable = "SIGIL_ATTEST_JWKS_DIR"

    /// Whether `path` (absolute, no `..`) lies under the directory, after symbolic links are resolved when reading.
    static func contains(_ path: String, directory: String) -> Bool {
        path.hasPrefix(directory + "/") && !path.split(separator: "/").contains("..")
    }
}
