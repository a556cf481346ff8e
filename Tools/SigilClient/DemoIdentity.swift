import Foundation
import JWTKit
import SigilEvents

/// A stand-in for a Kubernetes cluster's service-account issuer: an ES256 signing key, its JWKS, and tokens for
/// service accounts, shaped like projected service-account tokens.
public struct DemoIdentity {
    public static let issuer = "https://kubernetes.demo.sigil.local"
    public static let audience = "sigil"
    public static let keyID = "demo-signing-key"

    let privateKey: ES256PrivateKey

    public init() { privateKey = ES256PrivateKey() }

    /// The same stand-in issuer again (its signing key in PEM), e.g. across the steps of `make bench`.
    public init(privateKeyPEM: String) throws { privateKey = try ES256PrivateKey(pem: privateKeyPEM) }

    /// The signing key in PEM, to make the same issuer again later; keep it private.
    public var privateKeyPEM: String { privateKey.pemRepresentation }

    /// The signing key, for tests that craft tokens by hand.
    public var privateKeyForTests: ES256PrivateKey { privateKey }

    struct Claims: JWTPayload {
        struct Kubernetes: Codable {
            struct Named: Codable { let name: String }
            let namespace: String
            let serviceaccount: Named
        }

        let iss: IssuerClaim
        let sub: SubjectClaim
        let aud: AudienceClaim
        let exp: ExpirationClaim
        let iat: IssuedAtClaim
        let nbf: NotBeforeClaim
        let kubernetes: Kubernetes

        enum CodingKeys: String, CodingKey {
            case iss, sub, aud, exp, iat, nbf
            case kubernetes = "kubernetes.io"
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// The JWKS a trust provider is configured with (public key only).
    public func jwks() throws -> [String: Any] {
        guard let parameters = privateKey.publicKey.parameters else {
            throw AdminClient.Failure(description: "the signing key has no EC parameters")
        }
        return [
            "keys": [
                [
                    "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": Self.keyID, "x": parameters.x,
                    "y": parameters.y,
                ]
            ]
        ]
    }

    public func token(namespace: String, serviceAccount: String) async throws -> String {
        let keys = await JWTKeyCollection().add(ecdsa: privateKey, kid: JWKIdentifier(string: Self.keyID))
        let now = Date()
        let claims = Claims(
            iss: IssuerClaim(value: Self.issuer),
            sub: SubjectClaim(value: "system:serviceaccount:\(namespace):\(serviceAccount)"),
            aud: AudienceClaim(value: [Self.audience]),
            exp: ExpirationClaim(value: now.addingTimeInterval(600)),
            iat: IssuedAtClaim(value: now),
            nbf: NotBeforeClaim(value: now),
            kubernetes: .init(namespace: namespace, serviceaccount: .init(name: serviceAccount))
        )
        return try await keys.sign(claims, kid: JWKIdentifier(string: Self.keyID))
    }

    /// A token with any claims (a CI job's, an OIDC ID token's), signed by this issuer's key.
    public func token(claims: [String: JSONValue]) async throws -> String {
        struct AnyClaims: JWTPayload {
            let claims: [String: JSONValue]
            func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
            init(claims: [String: JSONValue]) { self.claims = claims }
            init(from decoder: any Decoder) throws { claims = try [String: JSONValue](from: decoder) }
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let keys = await JWTKeyCollection().add(ecdsa: privateKey, kid: JWKIdentifier(string: Self.keyID))
        return try await keys.sign(AnyClaims(claims: claims), kid: JWKIdentifier(string: Self.keyID))
    }

    /// Puts a new token for the service account where the edge reads it, and waits until the edge has read it (it
    /// checks the file for changes every 250 ms, as a kubelet-rotated token file is watched). Returns the token.
    @discardableResult
    public func present(namespace: String, serviceAccount: String, tokenFile: String) async throws -> String {
        let token = try await token(namespace: namespace, serviceAccount: serviceAccount)
        try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(400))
        return token
    }
}
