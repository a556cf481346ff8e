import ArgumentParser
import Foundation
import JWTKit
import SigilAttestation
import SigilClient
import SigilEvents
import SigilService
import _CryptoExtras

/// Workload evidence verification on one core: Kubernetes service-account tokens (ES256 and RS256) checked by the
/// attestation service's verifier exactly as an access request's are (header, key by kid, signature, times, audience,
/// identity). Writes the tokens and public keys for the anchor (PyJWT, `bench/pyjwt_verify.py`) to verify the same.
struct BenchVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "JWT evidence verifications per second on one core (ES256, RS256).")

    @Option(help: "Distinct tokens per algorithm.") var tokens = 2_000
    @Option(help: "Seconds to verify for, per algorithm.") var seconds = 3.0
    @Option(help: "Where the tokens and public keys for the anchor go.") var outputDirectory: String

    func run() async throws {
        var results: [String: Double] = [:]
        let ecdsa = ES256PrivateKey()
        let rsa = try Insecure.RSA.PrivateKey(pem: try _RSA.Signing.PrivateKey(keySize: .bits2048).pemRepresentation)
        func base64URL(_ data: Data) -> String {
            data.base64URLEncodedString
        }
        guard let point = ecdsa.publicKey.parameters else { throw ValidationError("no EC parameters") }
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        let setups: [(String, JWTKeyCollection, String, JSONValue)] = [
            (
                "ES256", await JWTKeyCollection().add(ecdsa: ecdsa, kid: "bench"), ecdsa.publicKey.pemRepresentation,
                [
                    "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "bench", "x": .string(point.x),
                    "y": .string(point.y),
                ]
            ),
            (
                "RS256", await JWTKeyCollection().add(rsa: rsa, digestAlgorithm: .sha256, kid: "bench"),
                rsa.publicKey.pemRepresentation,
                [
                    "kty": "RSA", "alg": "RS256", "kid": "bench", "n": .string(base64URL(modulus)),
                    "e": .string(base64URL(exponent)),
                ]
            ),
        ]
        for (algorithm, keys, publicPEM, key) in setups {
            let signed = try await sign(count: tokens, keys: keys)
            let jwks: JSONValue = ["keys": [key]]
            let provider = try Self.provider(jwks: jwks, algorithm: algorithm)
            let verifier = JWTVerifier()
            // Once through, to make the key ready (as a running service has it), then timed.
            _ = try await verifier.verify(signed[0], providers: [provider])
            var verified = 0
            let started = ContinuousClock.now
            let budget = Duration.milliseconds(Int(seconds * 1000))
            while ContinuousClock.now - started < budget {
                for token in signed {
                    _ = try await verifier.verify(token, providers: [provider])
                }
                verified += signed.count
            }
            let elapsed = ContinuousClock.now - started
            results[algorithm] =
                Double(verified) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            try signed.joined(separator: "\n").write(
                toFile: "\(outputDirectory)/\(algorithm).tokens", atomically: true, encoding: .utf8)
            try publicPEM.write(toFile: "\(outputDirectory)/\(algorithm).pem", atomically: true, encoding: .utf8)
        }
        let output = try JSONSerialization.data(withJSONObject: ["issuer": DemoIdentity.issuer, "perSecond": results])
        print(String(decoding: output, as: UTF8.self))
    }

    /// Service-account tokens, each for its own service account, valid for ten minutes.
    private func sign(count: Int, keys: JWTKeyCollection) async throws -> [String] {
        struct Claims: JWTPayload {
            let iss: String, sub: String, aud: [String], exp: Int, iat: Int, nbf: Int
            func verify(using algorithm: some JWTAlgorithm) async throws {}
        }
        let now = Int(Date().timeIntervalSince1970)
        var tokens: [String] = []
        for index in 0..<count {
            tokens.append(
                try await keys.sign(
                    Claims(
                        iss: DemoIdentity.issuer, sub: "system:serviceaccount:bench:sa-\(index)", aud: ["sigil"],
                        exp: now + 600, iat: now, nbf: now),
                    kid: "bench"))
        }
        return tokens
    }

    /// The trust provider as admission stores it (every default filled in).
    static func provider(jwks: JSONValue, algorithm: String) throws -> TrustProvider {
        let spec: JSONValue = [
            "type": "kubernetes-service-account", "issuer": .string(DemoIdentity.issuer), "audiences": ["sigil"],
            "jwks": jwks, "allowedAlgorithms": [.string(algorithm)], "clockSkewSeconds": 30,
            "maxTokenLifetimeSeconds": 86_400, "acceptTokensWithoutKeyID": false,
        ]
        let now = Date()
        return TrustProvider(
            Resource(
                metadata: ResourceMetadata(
                    name: "bench", tenant: "bench", labels: [:], uid: UUIDv7.generate(),
                    resourceVersion: UUIDv7.generate(), generation: 1, createdAt: now, updatedAt: now,
                    createdBy: "bench"),
                spec: try spec.decode(TrustProviderSpec.self)))
    }
}
