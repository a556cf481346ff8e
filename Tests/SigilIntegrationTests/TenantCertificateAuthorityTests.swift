import Crypto
import Foundation
import SigilCrypto
import SigilEvents
import SwiftASN1
import Testing
import X509

@testable import CredentialIssuance

/// The tenants' certificate authorities for `x509` credentials, checked by an implementation that is not Sigil's:
/// `openssl verify` takes the served bundle as its trust and a leaf as a TLS client certificate.
@Suite("x509 credentials: per-tenant CAs alike in every replica; leaves openssl verifies as TLS client certificates")
struct TenantCertificateAuthorityTests {
    func authority(_ dataKey: TenantDataKey) -> TenantCertificateAuthority {
        let keyring = TenantKeyring(kek: try! KeyEncryptionKey(keyID: "kek", material: Array(repeating: 1, count: 32)))
        keyring.remember(dataKey)
        return TenantCertificateAuthority(signing: TenantSigningKeys(keyring: keyring, period: 30 * 86_400))
    }

    /// `openssl verify` of `leaf` against `bundle`, as a TLS client certificate; its output.
    func opensslVerify(bundle: String, leaf: String) throws -> (Bool, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-ca-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try bundle.write(to: directory.appendingPathComponent("bundle.pem"), atomically: true, encoding: .utf8)
        try leaf.write(to: directory.appendingPathComponent("leaf.pem"), atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "verify", "-CAfile", directory.appendingPathComponent("bundle.pem").path, "-purpose", "sslclient",
            directory.appendingPathComponent("leaf.pem").path,
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus == 0, text)
    }

    @Test("two replicas derive the same CA key; the bundle holds three periods; a leaf verifies, carries its SPIFFE ID")
    func issuedAndVerified() throws {
        let dataKey = TenantDataKey(tenant: "acme")
        let (one, two) = (authority(dataKey), authority(dataKey))
        let now = Date()
        let a = try #require(one.current(tenant: "acme", at: now))
        let b = try #require(two.current(tenant: "acme", at: now))
        #expect(a.certificate.publicKey == b.certificate.publicKey && a.certificate.subject == b.certificate.subject)
        #expect(one.bundle(tenant: "acme", at: now).count == 3)
        // Rotation: a period later another CA issues; the bundle served now already holds it, and the one served
        // then still holds today's (leaves issued today keep verifying).
        let next = try #require(one.current(tenant: "acme", at: now + 30 * 86_400))
        #expect(next.certificate.publicKey != a.certificate.publicKey)
        #expect(one.bundle(tenant: "acme", at: now).contains { $0.certificate.publicKey == next.certificate.publicKey })
        #expect(
            one.bundle(tenant: "acme", at: now + 30 * 86_400).contains {
                $0.certificate.publicKey == a.certificate.publicKey
            })
        #expect(one.current(tenant: "globex") == nil, "no data key, no CA")

        let issued = try one.issue(
            tenant: "acme", spiffeID: "spiffe://acme.test/billing", commonName: "billing", lifetime: 600, at: now)
        #expect(abs(issued.expiresAt.timeIntervalSince(now) - 600) < 1)
        let leaf = try Certificate(
            pemDocument: try #require(PEMDocument.parseMultiple(pemString: issued.chainPEM).first))
        let names = try #require(try leaf.extensions.subjectAlternativeNames)
        #expect(Array(names) == [.uniformResourceIdentifier("spiffe://acme.test/billing")])
        // The bundle a replica serves verifies a leaf another replica issued (same key, same subject).
        let bundle = two.bundle(tenant: "acme", at: now).map(\.pem).joined(separator: "\n")
        let (verified, output) = try opensslVerify(bundle: bundle, leaf: issued.chainPEM)
        #expect(verified, "\(output)")
        // Another tenant's (another data key's) CA does not.
        let other = authority(TenantDataKey(tenant: "acme")).bundle(tenant: "acme").map(\.pem).joined(separator: "\n")
        #expect(try opensslVerify(bundle: other, leaf: issued.chainPEM).0 == false)
        #expect(!issued.keyPEM.isEmpty && issued.keyPEM.contains("PRIVATE KEY"))
    }

    /// A CA an operator imports: P-256, self-signed, valid between the dates.
    static func importedCA(from: Date, to: Date) throws -> (Certificate, P256.Signing.PrivateKey) {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Imported workload CA") }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: from,
            notValidAfter: to, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(key))
        return (certificate, key)
    }

    @Test("an imported CA issues leaves openssl verifies against it; an expired one issues nothing, saying so")
    func importedAuthority() throws {
        let (valid, key) = try Self.importedCA(from: Date() - 3600, to: Date() + 86_400)
        let (imported, algorithm) = try #require(TenantCertificateAuthority.importedKey(key.pemRepresentation))
        #expect(algorithm == .ecdsaWithSHA256 && imported.publicKey == valid.publicKey)
        let issued = try TenantCertificateAuthority.issue(
            by: valid, key: imported, algorithm: algorithm, spiffeID: "spiffe://acme.test/billing",
            commonName: "billing", lifetime: 600)
        let (verified, output) = try opensslVerify(
            bundle: try valid.serializeAsPEM().pemString, leaf: issued.chainPEM)
        #expect(verified, "\(output)")

        let (expired, expiredKey) = try Self.importedCA(from: Date() - 7200, to: Date() - 3600)
        let refusal = #expect(throws: RefusalReason.self) {
            try TenantCertificateAuthority.issue(
                by: expired, key: .init(expiredKey), algorithm: .ecdsaWithSHA256, spiffeID: "spiffe://acme.test/b",
                commonName: "b", lifetime: 600)
        }
        #expect(refusal?.code == "credential-unavailable" && refusal?.detail.contains("not now") == true)
    }
}
