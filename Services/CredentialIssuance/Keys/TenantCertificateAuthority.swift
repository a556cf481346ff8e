import Crypto
import Foundation
import SigilCrypto
import SigilEvents
import SwiftASN1
import Synchronization
import X509
import _CryptoExtras

/// A tenant's certificate authority for `x509` credentials, one per data key and period like the JWT signing keys:
/// its P-256 key derived from the tenant's data key (every issuance replica holds the same CA without storing it;
/// deleting the data keys destroys it), its certificate self-signed, valid from a period before its own to a period
/// after (so the next period's CA, published early, already verifies, and leaves issued late still do). Upstreams
/// trust the bundle at `/tenants/{tenant}/x509-bundle.pem`: the previous, current and next period's CAs.
final class TenantCertificateAuthority: Sendable {
    struct Authority: Sendable {
        let key: P256.Signing.PrivateKey
        let certificate: Certificate
        var pem: String { (try? certificate.serializeAsPEM().pemString) ?? "" }
    }

    let signing: TenantSigningKeys
    /// Made once per data key and period (an ECDSA signature differs each time; one process serves one copy).
    private let made = Mutex<[String: Authority]>([:])

    init(signing: TenantSigningKeys) { self.signing = signing }

    /// The CA that issues now. Nil while the tenant has no data key.
    func current(tenant: String, at moment: Date = Date()) -> Authority? {
        guard let dataKey = signing.keyring.keys(tenant: tenant).last else { return nil }
        return authority(dataKey, tenant: tenant, period: signing.periodNumber(at: moment))
    }

    /// Every CA an upstream should trust now: each data key's previous, current and next period's.
    func bundle(tenant: String, at moment: Date = Date()) -> [Authority] {
        let now = signing.periodNumber(at: moment)
        return signing.keyring.keys(tenant: tenant).flatMap { dataKey in
            (now - 1...now + 1).compactMap { authority(dataKey, tenant: tenant, period: $0) }
        }
    }

    private func authority(_ dataKey: TenantDataKey, tenant: String, period: Int64) -> Authority? {
        let id = "\(dataKey.keyID)-\(period)"
        if let known = made.withLock({ $0[id] }) { return known }
        guard
            let key = try? P256.Signing.PrivateKey(rawRepresentation: dataKey.derivedSeed("x509-ca/\(period)")),
            let name = try? DistinguishedName(builder: {
                OrganizationName("Sigil")
                CommonName("Sigil tenant \(tenant) CA \(id)")
            })
        else { return nil }
        let start = Date(timeIntervalSince1970: Double(period) * signing.period)
        let serial = Array(SHA256.hash(data: Data("x509-ca/\(tenant)/\(id)".utf8)).prefix(16))
        guard
            let certificate = try? Certificate(
                version: .v3, serialNumber: .init(bytes: [0x01] + serial.dropFirst()),
                publicKey: .init(key.publicKey), notValidBefore: start - signing.period,
                notValidAfter: start + 2 * signing.period, issuer: name, subject: name,
                signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                    Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                    SubjectKeyIdentifier(hash: .init(key.publicKey))
                },
                issuerPrivateKey: .init(key))
        else { return nil }
        let authority = Authority(key: key, certificate: certificate)
        made.withLock { $0[id] = authority }
        return authority
    }

    /// A client certificate for `spiffeID` (the one URI SAN; the common name `commonName`), valid from 30 seconds ago
    /// for `lifetime` seconds (never past the CA), with a fresh P-256 key: the chain (leaf, CA) and the key, PEM.
    func issue(
        tenant: String, spiffeID: String, commonName: String, lifetime: Int, at moment: Date = Date()
    ) throws -> (chainPEM: String, keyPEM: String, expiresAt: Date) {
        guard let authority = current(tenant: tenant, at: moment) else {
            throw RefusalReason(code: "credential-unavailable", detail: "the tenant has no certificate authority yet")
        }
        return try Self.issue(
            by: authority.certificate, key: .init(authority.key), algorithm: .ecdsaWithSHA256, spiffeID: spiffeID,
            commonName: commonName, lifetime: lifetime, at: moment)
    }

    /// A client certificate issued by `issuer` (the tenant's CA, or one a provider imported): the chain (leaf, issuer)
    /// and its fresh P-256 key, PEM. An issuer that has expired issues nothing.
    static func issue(
        by issuer: Certificate, key issuerKey: Certificate.PrivateKey, algorithm: Certificate.SignatureAlgorithm,
        spiffeID: String, commonName: String, lifetime: Int, at moment: Date = Date()
    ) throws -> (chainPEM: String, keyPEM: String, expiresAt: Date) {
        guard issuer.notValidAfter > moment + 60, issuer.notValidBefore <= moment else {
            throw RefusalReason(
                code: "credential-unavailable",
                detail: "the issuing CA is valid from \(issuer.notValidBefore) to \(issuer.notValidAfter), not now")
        }
        let key = P256.Signing.PrivateKey()
        let notAfter = min(moment + TimeInterval(lifetime), issuer.notValidAfter)
        let leaf = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: moment - 30,
            notValidAfter: notAfter, issuer: issuer.subject,
            subject: try DistinguishedName { CommonName(String(commonName.prefix(64))) },
            signatureAlgorithm: algorithm,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.clientAuth])
                SubjectAlternativeNames([.uniformResourceIdentifier(spiffeID)])
                AuthorityKeyIdentifier(keyIdentifier: SubjectKeyIdentifier(hash: issuerKey.publicKey).keyIdentifier)
            },
            issuerPrivateKey: issuerKey)
        let chain = try leaf.serializeAsPEM().pemString + "\n" + issuer.serializeAsPEM().pemString + "\n"
        return (chain, key.pemRepresentation, notAfter)
    }

    /// An imported CA's key (PEM) and the algorithm it signs with: P-256, P-384, RSA or Ed25519.
    static func importedKey(_ pem: String) -> (Certificate.PrivateKey, Certificate.SignatureAlgorithm)? {
        if let key = try? P256.Signing.PrivateKey(pemRepresentation: pem) { return (.init(key), .ecdsaWithSHA256) }
        if let key = try? P384.Signing.PrivateKey(pemRepresentation: pem) { return (.init(key), .ecdsaWithSHA384) }
        if let key = try? _RSA.Signing.PrivateKey(pemRepresentation: pem) {
            return (.init(key), .sha256WithRSAEncryption)
        }
        if let key = try? Curve25519.Signing.PrivateKey(pemRepresentation: pem) { return (.init(key), .ed25519) }
        return nil
    }
}
