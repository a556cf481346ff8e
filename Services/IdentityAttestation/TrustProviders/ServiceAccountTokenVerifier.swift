import Foundation
import JWTKit

/// The verified identity in a Kubernetes service-account token.
struct VerifiedServiceAccount: Sendable, Equatable {
    let trustProvider: String
    let issuer: String
    let subject: String
    let namespace: String
    let serviceAccount: String
}

/// Verifies a Kubernetes service-account token against the tenant's trust providers. Fails closed: every check
/// that cannot be made is a refusal with its own reason code.
struct ServiceAccountTokenVerifier: Sendable {
    static let maximumTokenBytes = 16 * 1024

    struct Claims: JWTPayload {
        struct Kubernetes: Codable, Sendable {
            struct Named: Codable, Sendable { let name: String }
            let namespace: String?
            let serviceaccount: Named?
        }

        let iss: IssuerClaim?
        let sub: SubjectClaim?
        let aud: AudienceClaim?
        let exp: ExpirationClaim?
        let nbf: NotBeforeClaim?
        let iat: IssuedAtClaim?
        let kubernetes: Kubernetes?

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, nbf, iat
            case kubernetes = "kubernetes.io"
        }

        /// Claims are checked by the verifier with the provider's skew, after the signature.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private struct Header: Decodable {
        let alg: String?
    }

    private struct UnverifiedIssuer: Decodable {
        let iss: String?
    }

    func verify(
        _ token: String, providers: [TrustProvider], now: Date = Date()
    ) async throws(AttestationRefusal) -> VerifiedServiceAccount {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .tokenTooLarge }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[2].isEmpty,
            let header = Self.decodeSegment(parts[0], as: Header.self),
            let unverified = Self.decodeSegment(parts[1], as: UnverifiedIssuer.self)
        else { throw .tokenMalformed }
        guard let issuer = unverified.iss else { throw .missingClaim }
        guard let provider = providers.first(where: { $0.issuer == issuer }) else { throw .unknownIssuer }
        guard let algorithm = header.alg, provider.allowedAlgorithms.contains(algorithm),
            !KubernetesServiceAccountTrust.forbiddenAlgorithms.contains(algorithm)
        else { throw .algorithmNotAllowed }

        let keys: JWTKeyCollection
        do {
            keys = try await provider.keys()
        } catch {
            throw .jwksUnavailable
        }
        let claims: Claims
        do {
            claims = try await keys.verify(token, as: Claims.self)
        } catch {
            throw .signatureInvalid
        }

        guard let expiry = claims.exp?.value, let audience = claims.aud?.value else { throw .missingClaim }
        guard now.addingTimeInterval(-provider.clockSkew) < expiry else { throw .tokenExpired }
        if let notBefore = claims.nbf?.value, notBefore > now.addingTimeInterval(provider.clockSkew) {
            throw .tokenNotYetValid
        }
        if let issuedAt = claims.iat?.value, issuedAt > now.addingTimeInterval(provider.clockSkew) {
            throw .tokenNotYetValid
        }
        guard !Set(audience).isDisjoint(with: provider.audiences) else { throw .audienceMismatch }

        let subject = claims.sub?.value ?? ""
        var namespace = claims.kubernetes?.namespace
        var serviceAccount = claims.kubernetes?.serviceaccount?.name
        let subjectParts = subject.split(separator: ":", omittingEmptySubsequences: false)
        if subjectParts.count == 4, subjectParts[0] == "system", subjectParts[1] == "serviceaccount" {
            // The subject and the kubernetes.io claim must agree when both are present.
            if let namespace, namespace != subjectParts[2] { throw .tokenMalformed }
            if let serviceAccount, serviceAccount != subjectParts[3] { throw .tokenMalformed }
            namespace = String(subjectParts[2])
            serviceAccount = String(subjectParts[3])
        }
        guard let namespace, !namespace.isEmpty, let serviceAccount, !serviceAccount.isEmpty else {
            throw .missingClaim
        }
        return VerifiedServiceAccount(
            trustProvider: provider.name,
            issuer: issuer,
            subject: subject,
            namespace: namespace,
            serviceAccount: serviceAccount
        )
    }

    private static func decodeSegment<T: Decodable>(_ segment: Substring, as type: T.Type) -> T? {
        var base64 = segment.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONDecoder().decode(type, from: data)
    }
}
