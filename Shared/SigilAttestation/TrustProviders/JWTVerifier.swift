import Foundation
import JWTKit
import Logging
import SigilEvents

/// Verifies a JWT (a service-account, CI or OIDC token) against the tenant's JWT trust providers. Fails closed:
/// every check that cannot be made is a refusal with its own reason code.
package struct JWTVerifier: Sendable {
    static let maximumTokenBytes = 16 * 1024
    /// Key sets fetched over HTTP, shared by every attestation of this process.
    let remote: RemoteKeySets
    /// `SIGIL_ATTEST_JWKS_DIR`: where key files may be read (nil: none are).
    let keyFileDirectory: String?

    package init(
        remote: RemoteKeySets = RemoteKeySets(logger: Logger(label: "sigil-attest.keys")),
        keyFileDirectory: String? = nil
    ) {
        self.remote = remote
        self.keyFileDirectory = keyFileDirectory
    }

    /// The registered claims, read with their types, and every claim as JSON (for the type's identity).
    struct Claims: JWTPayload {
        struct Registered: Decodable {
            let iss: IssuerClaim?
            let sub: SubjectClaim?
            let aud: AudienceClaim?
            let exp: ExpirationClaim?
            let nbf: NotBeforeClaim?
            let iat: IssuedAtClaim?
        }

        let registered: Registered
        let all: JSONValue

        init(from decoder: any Decoder) throws {
            registered = try Registered(from: decoder)
            all = try JSONValue(from: decoder)
        }

        func encode(to encoder: any Encoder) throws { try all.encode(to: encoder) }

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
    /// within the skew and the provider's longest lifetime; `iss` exact; `aud` one of the provider's; then the
    /// claims the provider's type requires. Several providers may share an issuer (two audiences, two GitHub
    /// settings): the token is accepted by the first that verifies it, or refused with the first refusal.
    package func verify(
        _ token: String, providers: [TrustProvider], now: Date = Date()
    ) async throws(AttestationRefusal) -> VerifiedEvidence {
        guard token.utf8.count <= Self.maximumTokenBytes else { throw .tokenTooLarge }
        let parsed = try Self.parse(token)
        guard parsed.header.fields["crit"] == nil else { throw .criticalHeaderUnsupported }
        guard let issuer = parsed.issuer else { throw .claimMissing("iss") }
        let candidates = providers.filter { $0.jwtIssuer?.issuer == issuer }
        guard !candidates.isEmpty else { throw .unknownIssuer }
        var firstRefusal: AttestationRefusal?
        for provider in candidates {
            do {
                return try await verify(parsed, provider: provider, now: now)
            } catch {
                firstRefusal = firstRefusal ?? error
            }
        }
        throw firstRefusal ?? .unknownIssuer
    }

    /// A token as jwt-kit parses it, once: the header, the claims (nil when a registered claim has the wrong type,
    /// which is refused once the signature is known to be good), the signature and the signed bytes.
    struct ParsedToken {
        let header: JWTHeader
        let issuer: String?
        let claims: Claims?
        let signature: Data
        /// `header.payload`, as signed.
        let signingInput: ArraySlice<UInt8>
    }

    static func parse(_ token: String) throws(AttestationRefusal) -> ParsedToken {
        let bytes = Array(token.utf8)
        guard let lastDot = bytes.lastIndex(of: UInt8(ascii: ".")) else { throw .tokenMalformed }
        do {
            let (header, claims, signature) = try DefaultJWTParser().parse(bytes, as: Claims.self)
            return ParsedToken(
                header: header, issuer: claims.registered.iss?.value, claims: claims, signature: signature,
                signingInput: bytes[..<lastDot])
        } catch {
            do {
                let (header, unverified, signature) = try DefaultJWTParser().parse(bytes, as: UnverifiedIssuer.self)
                return ParsedToken(
                    header: header, issuer: unverified.iss, claims: nil, signature: signature,
                    signingInput: bytes[..<lastDot])
            } catch {
                throw .tokenMalformed
            }
        }
    }

    private func verify(
        _ token: ParsedToken, provider: TrustProvider, now: Date
    ) async throws(AttestationRefusal) -> VerifiedEvidence {
        guard let issuer = provider.jwtIssuer else { throw .unknownIssuer }
        let header = token.header
        guard let algorithm = header.alg, issuer.allowedAlgorithms.contains(algorithm),
            !JWTTrustSpec.forbiddenAlgorithms.contains(algorithm)
        else { throw .algorithmNotAllowed }

        var keySet: [JWK]
        do {
            keySet = try await issuer.keys(remote, keyFileDirectory: keyFileDirectory)
        } catch {
            throw .jwksUnavailable
        }
        // A key the published set lacks may have just been rotated in: fetched again (rate-limited) once.
        if case .remote(let source) = issuer.jwks, let kid = header.kid,
            !keySet.contains(where: { $0.keyIdentifier?.string == kid }),
            let refreshed = try? await remote.keysAfterUnknownKey(source)
        {
            keySet = refreshed
        }
        var signed = false
        for key in try Self.keys(for: header, algorithm: algorithm, in: keySet, issuer: issuer) {
            // The signature checked by the key's jwt-kit algorithm over exactly the bytes that were signed.
            if let verifier = try? await issuer.verificationKeys.algorithm(for: key),
                (try? verifier.verify(token.signature, signs: token.signingInput)) == true
            {
                signed = true
                break
            }
        }
        guard signed else { throw .signatureInvalid }
        // Signed by the key, but a registered claim is not of its type (a string `exp`): not a usable token.
        guard let claims = token.claims else { throw .claimTypeInvalid }
        try Self.check(claims.registered, issuer: issuer, now: now)
        return VerifiedEvidence(
            trustProvider: provider.name, type: provider.type, attributes: try issuer.profile.attributes(claims.all),
            published: issuer.profile.publishedAttributes)
    }

    /// The keys a token may be checked with: the one its `kid` names, or (without a `kid`, only where the provider
    /// allows it) every key of the set that can make its algorithm. A key whose own `alg`, type or curve does not fit
    /// the token's algorithm is refused, not tried.
    private static func keys(
        for header: JWTHeader, algorithm: String, in keySet: [JWK], issuer: JWTIssuer
    ) throws(AttestationRefusal) -> [JWK] {
        guard let kid = header.kid else {
            guard issuer.acceptTokensWithoutKeyID else {
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

    /// The registered claims, checked: times, lifetime, audience.
    private static func check(
        _ claims: Claims.Registered, issuer: JWTIssuer, now: Date
    ) throws(AttestationRefusal) {
        guard let expiry = claims.exp?.value else { throw .claimMissing("exp") }
        guard let issuedAt = claims.iat?.value else { throw .claimMissing("iat") }
        guard let notBefore = claims.nbf?.value else { throw .claimMissing("nbf") }
        guard let audience = claims.aud?.value else { throw .claimMissing("aud") }
        guard now.addingTimeInterval(-issuer.clockSkew) < expiry else { throw .tokenExpired }
        guard notBefore <= now.addingTimeInterval(issuer.clockSkew),
            issuedAt <= now.addingTimeInterval(issuer.clockSkew)
        else { throw .tokenNotYetValid }
        let lifetime = Int(expiry.timeIntervalSince(issuedAt).rounded(.up))
        guard lifetime <= issuer.maxTokenLifetime else {
            throw .lifetimeTooLong(lifetime, maximum: issuer.maxTokenLifetime)
        }
        guard !Set(audience).isDisjoint(with: issuer.audiences) else {
            throw .claimMismatch(
                "aud", expected: "one of \(issuer.audiences.sorted())",
                actual: "\(audience.prefix(8).map(bounded))\(audience.count > 8 ? " (and more)" : "")")
        }
    }
}
