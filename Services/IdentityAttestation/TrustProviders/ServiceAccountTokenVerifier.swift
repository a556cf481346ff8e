import Foundation
import JWTKit
import Logging

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
    /// Key sets fetched over HTTP, shared by every attestation of this process.
    let remote: RemoteKeySets
    /// `SIGIL_ATTEST_JWKS_DIR`: where key files may be read (nil: none are).
    let keyFileDirectory: String?

    init(
        remote: RemoteKeySets = RemoteKeySets(logger: Logger(label: "sigil-attest.keys")),
        keyFileDirectory: String? = nil
    ) {
        self.remote = remote
        self.keyFileDirectory = keyFileDirectory
    }

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

    /// What is read before the signature is checked: only the issuer, to pick the provider.
    private struct UnverifiedIssuer: JWTPayload {
        let iss: String?
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Verification as RFC 8725 (JWT best current practices) asks: the header parsed by jwt-kit; no `crit`; the
    /// algorithm one the provider allows and the key's own (its `alg`, and its `kty`/`crv` able to make it); the key
    /// chosen by `kid` from the provider's set (never "any key that works"); `exp`, `nbf`, `iat` present and numeric,
    /// within the skew and the provider's longest lifetime; `iss` exact; `aud` one of the provider's.
    func verify(
        _ token: String, providers: [TrustProvider], now: Date = Date()
    ) async throws(AttestationRefusal) -> VerifiedServiceAccount {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .tokenTooLarge }
        let header: JWTHeader
        let unverified: UnverifiedIssuer
        do {
            (header, unverified, _) = try DefaultJWTParser().parse(Array(token.utf8), as: UnverifiedIssuer.self)
        } catch {
            throw .tokenMalformed
        }
        guard header.fields["crit"] == nil else { throw .criticalHeaderUnsupported }
        guard let issuer = unverified.iss else { throw .claimMissing("iss") }
        guard let provider = providers.first(where: { $0.issuer == issuer }) else { throw .unknownIssuer }
        guard let algorithm = header.alg, provider.allowedAlgorithms.contains(algorithm),
            !KubernetesServiceAccountTrust.forbiddenAlgorithms.contains(algorithm)
        else { throw .algorithmNotAllowed }

        var keySet: [JWK]
        do {
            keySet = try await provider.keys(remote, keyFileDirectory: keyFileDirectory)
        } catch {
            throw .jwksUnavailable
        }
        // A key the published set lacks may have just been rotated in: fetched again (rate-limited) once.
        if case .remote(let source) = provider.jwks, let kid = header.kid,
            !keySet.contains(where: { $0.keyIdentifier?.string == kid }),
            let refreshed = try? await remote.keysAfterUnknownKey(source)
        {
            keySet = refreshed
        }
        let candidates = try Self.keys(for: header, algorithm: algorithm, in: keySet, provider: provider)
        var claims: Claims?
        for key in candidates {
            do {
                let keys = try await provider.verificationKeys.collection(for: key)
                claims = try await keys.verify(token, as: Claims.self)
                break
            } catch let error as JWTError where error.errorType != .signatureVerificationFailed {
                // Signed by this key, but a claim is not of its type (a string `exp`): not a usable token.
                throw .claimTypeInvalid
            } catch {
                continue
            }
        }
        guard let claims else { throw .signatureInvalid }
        return try Self.identity(claims, issuer: issuer, provider: provider, now: now)
    }

    /// The keys a token may be checked with: the one its `kid` names, or (without a `kid`, only where the provider
    /// allows it) every key of the set that can make its algorithm. A key whose own `alg`, type or curve does not fit
    /// the token's algorithm is refused, not tried.
    private static func keys(
        for header: JWTHeader, algorithm: String, in keySet: [JWK], provider: TrustProvider
    ) throws(AttestationRefusal) -> [JWK] {
        guard let kid = header.kid else {
            guard provider.acceptTokensWithoutKeyID else {
                throw .keyUnknown("the token names no key (kid) and the trust provider requires one")
            }
            let fitting = keySet.filter { fits($0, algorithm) == nil }
            guard !fitting.isEmpty else { throw .keyUnknown("no key of the trust provider can verify \(algorithm)") }
            return fitting
        }
        guard let key = keySet.first(where: { $0.keyIdentifier?.string == kid }) else {
            throw .keyUnknown("the token's key (kid \(bounded(kid))) is not in the trust provider's key set")
        }
        if let mismatch = fits(key, algorithm) { throw .keyAlgorithmMismatch(mismatch) }
        return [key]
    }

    /// Why a key cannot verify an algorithm, or nil when it can.
    private static func fits(_ key: JWK, _ algorithm: String) -> String? {
        let kid = key.keyIdentifier?.string ?? "without kid"
        if let own = key.algorithm?.rawValue, own != algorithm {
            return "key \(kid) is for \(own); the token says \(bounded(algorithm))"
        }
        let type = key.keyType.rawValue
        let curve = key.curve?.rawValue
        let fits: Bool
        switch algorithm {
        case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512": fits = type == "RSA"
        case "ES256": fits = type == "EC" && curve == "P-256"
        case "ES384": fits = type == "EC" && curve == "P-384"
        case "ES512": fits = type == "EC" && curve == "P-521"
        case "EdDSA": fits = type == "OKP" && curve == "Ed25519"
        default: fits = false
        }
        return fits ? nil : "key \(kid) is \(type)\(curve.map { " " + $0 } ?? ""); it cannot verify \(algorithm)"
    }

    /// The verified claims, checked: times, lifetime, audience, and the service account.
    private static func identity(
        _ claims: Claims, issuer: String, provider: TrustProvider, now: Date
    ) throws(AttestationRefusal) -> VerifiedServiceAccount {
        guard let expiry = claims.exp?.value else { throw .claimMissing("exp") }
        guard let issuedAt = claims.iat?.value else { throw .claimMissing("iat") }
        guard let notBefore = claims.nbf?.value else { throw .claimMissing("nbf") }
        guard let audience = claims.aud?.value else { throw .claimMissing("aud") }
        guard now.addingTimeInterval(-provider.clockSkew) < expiry else { throw .tokenExpired }
        guard notBefore <= now.addingTimeInterval(provider.clockSkew),
            issuedAt <= now.addingTimeInterval(provider.clockSkew)
        else { throw .tokenNotYetValid }
        let lifetime = Int(expiry.timeIntervalSince(issuedAt).rounded(.up))
        guard lifetime <= provider.maxTokenLifetime else {
            throw .lifetimeTooLong(lifetime, maximum: provider.maxTokenLifetime)
        }
        guard !Set(audience).isDisjoint(with: provider.audiences) else {
            throw .claimMismatch(
                "aud", expected: "one of \(provider.audiences.sorted())",
                actual: "\(audience.prefix(8).map(bounded))\(audience.count > 8 ? " (and more)" : "")")
        }

        let subject = claims.sub?.value ?? ""
        var namespace = claims.kubernetes?.namespace
        var serviceAccount = claims.kubernetes?.serviceaccount?.name
        let subjectParts = subject.split(separator: ":", omittingEmptySubsequences: false)
        if subjectParts.count == 4, subjectParts[0] == "system", subjectParts[1] == "serviceaccount" {
            // The subject and the kubernetes.io claim must agree when both are present.
            if let namespace, namespace != subjectParts[2] {
                throw .claimMismatch(
                    "kubernetes.io.namespace", expected: bounded(String(subjectParts[2])) + " (from sub)",
                    actual: bounded(namespace))
            }
            if let serviceAccount, serviceAccount != subjectParts[3] {
                throw .claimMismatch(
                    "kubernetes.io.serviceaccount.name", expected: bounded(String(subjectParts[3])) + " (from sub)",
                    actual: bounded(serviceAccount))
            }
            namespace = String(subjectParts[2])
            serviceAccount = String(subjectParts[3])
        }
        guard let namespace, !namespace.isEmpty, let serviceAccount, !serviceAccount.isEmpty else {
            throw .claimMissing("sub (system:serviceaccount:<namespace>:<name>)")
        }
        return VerifiedServiceAccount(
            trustProvider: provider.name,
            issuer: issuer,
            subject: subject,
            namespace: namespace,
            serviceAccount: serviceAccount
        )
    }

    /// A value from the token for a refusal's detail: quoted, printable ASCII only, at most 64 characters.
    static func bounded(_ value: String) -> String {
        let printable = value.unicodeScalars.prefix(64).map {
            $0.isASCII && $0.value >= 32 && $0 != "\"" ? Character($0) : "?"
        }
        return "\"" + String(printable) + (value.unicodeScalars.count > 64 ? "…" : "") + "\""
    }
}
