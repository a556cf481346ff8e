import Crypto
import Foundation
import JWTKit
import SigilCrypto
import SigilEvents
import SigilService
import _CryptoExtras

/// A tenant's JWT signing keys, one per algorithm and period: derived from the tenant's data keys (HKDF over the
/// data key, the algorithm and the period's number), so every issuance replica holds the same keys without storing or
/// exchanging them, and deleting the tenant's data keys destroys them (crypto-shredding). A key signs during its
/// period (`SIGIL_ISSUE_SIGNING_KEY_DAYS`, default 30 days); the JWKS publishes the previous, current and next
/// period's keys, so a verifier's cached JWKS already holds the next key when signing moves to it, and tokens signed
/// just before a rotation still verify after it. RS256 keys cannot be derived from a seed: they are generated and
/// stored (`TenantStoredSigningKeys`), with the same periods and publication.
struct TenantSigningKeys: Sendable {
    enum Algorithm: String, Codable, Sendable, CaseIterable {
        case es256 = "ES256"
        case rs256 = "RS256"
        case eddsa = "EdDSA"
    }

    /// One signing key: its id, and its public half as a JWK.
    struct SigningKey: Sendable {
        let kid: String
        let algorithm: Algorithm
        let privateKey: PrivateKey
        enum PrivateKey: Sendable {
            case p256(P256.Signing.PrivateKey)
            case ed25519(Curve25519.Signing.PrivateKey)
            case rsa(_RSA.Signing.PrivateKey)
        }

        /// The public key as RFC 7517 / RFC 8037 JWK members.
        var jwk: [String: String] {
            switch privateKey {
            case .p256(let key):
                let point = Array(key.publicKey.x963Representation)  // 0x04 | X | Y
                return [
                    "kty": "EC", "crv": "P-256", "x": Self.base64URL(point[1..<33]), "y": Self.base64URL(point[33...]),
                    "kid": kid, "alg": algorithm.rawValue, "use": "sig",
                ]
            case .ed25519(let key):
                return [
                    "kty": "OKP", "crv": "Ed25519", "x": Self.base64URL(key.publicKey.rawRepresentation),
                    "kid": kid, "alg": algorithm.rawValue, "use": "sig",
                ]
            case .rsa(let key):
                let primitives = try? key.publicKey.getKeyPrimitives()
                return [
                    "kty": "RSA", "n": Self.base64URL(primitives?.modulus ?? Data()),
                    "e": Self.base64URL(primitives?.publicExponent ?? Data()), "kid": kid,
                    "alg": algorithm.rawValue, "use": "sig",
                ]
            }
        }

        /// A compact JWS of `claims`, with this key's `kid` in the header (jwt-kit signs).
        func sign(_ claims: [String: JSONValue]) async throws -> String {
            struct Claims: JWTPayload {
                let claims: [String: JSONValue]
                func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
                init(_ claims: [String: JSONValue]) { self.claims = claims }
                init(from decoder: any Decoder) throws { claims = try [String: JSONValue](from: decoder) }
                func verify(using algorithm: some JWTAlgorithm) async throws {}
            }
            let id = JWKIdentifier(string: kid)
            let keys: JWTKeyCollection
            switch privateKey {
            case .p256(let key): keys = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(backing: key), kid: id)
            case .ed25519(let key): keys = await JWTKeyCollection().add(eddsa: EdDSA.PrivateKey(backing: key), kid: id)
            case .rsa(let key):
                keys = await JWTKeyCollection().add(
                    rsa: try Insecure.RSA.PrivateKey(backing: key), digestAlgorithm: .sha256, kid: id)
            }
            return try await keys.sign(Claims(claims), kid: id)
        }

        static func base64URL(_ bytes: some DataProtocol) -> String {
            Data(bytes).base64URLEncodedString
        }
    }

    let keyring: TenantKeyring
    /// How long a key signs.
    let period: TimeInterval
    /// The generated RS256 keys.
    var stored = TenantStoredSigningKeys()

    func periodNumber(at moment: Date) -> Int64 { Int64((moment.timeIntervalSince1970 / period).rounded(.down)) }

    /// The key that signs now: the tenant's newest data key's, for this period. Nil while the tenant has no data key.
    func current(tenant: String, algorithm: Algorithm, at moment: Date = Date()) -> SigningKey? {
        if algorithm == .rs256 {
            return stored.signing(tenant: tenant, period: periodNumber(at: moment)).map(Self.signingKey)
        }
        guard let dataKey = keyring.keys(tenant: tenant).last else { return nil }
        return Self.derive(dataKey, algorithm: algorithm, period: periodNumber(at: moment))
    }

    /// Generates and publishes the tenant's RS256 keys for this period and the next, if it has none (once per tenant
    /// and period in this process, however many grants ask at once).
    func ensureRS256(
        tenant: String, dataKey: TenantDataKey, context: ServiceContext, at moment: Date = Date()
    )
        async throws
    {
        let now = periodNumber(at: moment)
        for period in [now, now + 1] where stored.signing(tenant: tenant, period: period) == nil {
            _ = try await generations.value("\(tenant)/\(period)") { [stored] in
                if let known = stored.signing(tenant: tenant, period: period) { return known.kid }
                let (key, event) = try TenantStoredSigningKeys.generate(
                    tenant: tenant, period: period, dataKey: dataKey)
                try await context.publish(
                    event, to: .config, tenant: tenant, partitionKey: "\(tenant)/signing-key/\(key.kid)",
                    subject: key.kid)
                stored.remember(tenant: tenant, key)
                return key.kid
            }
        }
    }

    /// One generation per tenant and period at a time.
    private let generations = SharedCredentialCache<String> { _ in .distantFuture }

    static func signingKey(_ stored: TenantStoredSigningKeys.StoredKey) -> SigningKey {
        SigningKey(kid: stored.kid, algorithm: .rs256, privateKey: .rsa(stored.key))
    }

    /// Every key a verifier may meet now: for each data key of the tenant and each algorithm, the previous, current
    /// and next period's.
    func published(tenant: String, at moment: Date = Date()) -> [SigningKey] {
        let now = periodNumber(at: moment)
        let derived = keyring.keys(tenant: tenant).flatMap { dataKey in
            Algorithm.allCases.flatMap { algorithm in
                (now - 1...now + 1).compactMap { Self.derive(dataKey, algorithm: algorithm, period: $0) }
            }
        }
        return derived + stored.keys(tenant: tenant, periods: now - 1...now + 1).map(Self.signingKey)
    }

    static func derive(_ dataKey: TenantDataKey, algorithm: Algorithm, period: Int64) -> SigningKey? {
        let kid = "\(algorithm.rawValue.lowercased())-\(dataKey.keyID)-\(period)"
        let seed = dataKey.derivedSeed("jwt-signing/\(algorithm.rawValue)/\(period)")
        switch algorithm {
        case .es256:
            // A seed at or above the curve's order (odds about 2^-32) is not a key: that period has no ES256 key.
            guard let key = try? P256.Signing.PrivateKey(rawRepresentation: seed) else { return nil }
            return SigningKey(kid: kid, algorithm: algorithm, privateKey: .p256(key))
        case .eddsa:
            guard let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed) else { return nil }
            return SigningKey(kid: kid, algorithm: algorithm, privateKey: .ed25519(key))
        case .rs256:
            return nil
        }
    }
}
