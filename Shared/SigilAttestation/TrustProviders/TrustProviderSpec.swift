import Foundation
import SigilEvents
import SigilService

/// A trust provider: where workload evidence comes from and how it is checked. Each type is a case with its own spec
/// and schema; the four JWT types share one spec (`JWTTrustSpec`) and differ in presets and identifying claims;
/// `x509`, `join-token` and `aws-instance-identity` have their own.
package enum TrustProviderSpec: VariantResourceSpec {
    case kubernetesServiceAccount(JWTTrustSpec)
    case oidcIDToken(JWTTrustSpec)
    case githubActions(JWTTrustSpec)
    case gitlabCI(JWTTrustSpec)
    case x509(X509TrustSpec)
    case joinToken(JoinTokenTrustSpec)
    case awsInstanceIdentity(AWSInstanceIdentityTrustSpec)

    package static let kind = ResourceKind.trustProvider
    package static let summary = "Where workload evidence comes from and how it is verified."
    package static let variants: [SpecVariant<Self>] = [
        .init(JWTProfile.kubernetesServiceAccount.type, JWTTrustSpec.schema(.kubernetesServiceAccount)) {
            Self.kubernetesServiceAccount($0)
        },
        .init(JWTProfile.oidcIDToken.type, JWTTrustSpec.schema(.oidcIDToken)) { Self.oidcIDToken($0) },
        .init(JWTProfile.githubActions.type, JWTTrustSpec.schema(.githubActions)) { Self.githubActions($0) },
        .init(JWTProfile.gitlabCI.type, JWTTrustSpec.schema(.gitlabCI)) { Self.gitlabCI($0) },
        .init(X509TrustSpec.type, X509TrustSpec.schema) { Self.x509($0) },
        .init(JoinTokenTrustSpec.type, JoinTokenTrustSpec.schema) { Self.joinToken($0) },
        .init(AWSInstanceIdentityTrustSpec.type, AWSInstanceIdentityTrustSpec.schema) { Self.awsInstanceIdentity($0) },
    ]

    package init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    package func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    package var variant: (type: String, spec: any Encodable) {
        if let (profile, spec) = jwt { return (profile.type, spec) }
        switch self {
        case .x509(let spec): return (X509TrustSpec.type, spec)
        case .joinToken(let spec): return (JoinTokenTrustSpec.type, spec)
        case .awsInstanceIdentity(let spec): return (AWSInstanceIdentityTrustSpec.type, spec)
        case .kubernetesServiceAccount, .oidcIDToken, .githubActions, .gitlabCI:
            preconditionFailure("a JWT type is answered above")
        }
    }

    /// The JWT types: which one and its spec.
    package var jwt: (profile: JWTProfile, spec: JWTTrustSpec)? {
        switch self {
        case .kubernetesServiceAccount(let spec): (.kubernetesServiceAccount, spec)
        case .oidcIDToken(let spec): (.oidcIDToken, spec)
        case .githubActions(let spec): (.githubActions, spec)
        case .gitlabCI(let spec): (.gitlabCI, spec)
        case .x509, .joinToken, .awsInstanceIdentity: nil
        }
    }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        let directory = try admission.context.configuration.source.directory(KeyFileDirectory.variable)
        switch self {
        case .kubernetesServiceAccount(let spec):
            return .kubernetesServiceAccount(
                try await spec.admitted(.kubernetesServiceAccount, keyFileDirectory: directory))
        case .oidcIDToken(let spec):
            return .oidcIDToken(try await spec.admitted(.oidcIDToken, keyFileDirectory: directory))
        case .githubActions(let spec):
            return .githubActions(try await spec.admitted(.githubActions, keyFileDirectory: directory))
        case .gitlabCI(let spec):
            return .gitlabCI(try await spec.admitted(.gitlabCI, keyFileDirectory: directory))
        case .x509(let spec):
            return .x509(try spec.admitted())
        case .joinToken:
            return self
        case .awsInstanceIdentity(let spec):
            return .awsInstanceIdentity(try spec.admitted())
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
