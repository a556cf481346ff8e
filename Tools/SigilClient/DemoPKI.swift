import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// A stand-in certificate authority for `x509` trust providers: a root, an intermediate, and workload certificates
/// (X.509-SVIDs: a SPIFFE ID as the one URI SAN) with their keys, all P-256; revocation lists made by `openssl ca`
/// (an independent implementation, so Sigil's CRL reader is checked against the real format).
public struct DemoPKI: Sendable {
    public let trustDomain: String
    let rootKey: P256.Signing.PrivateKey
    public let root: Certificate
    let intermediateKey: P256.Signing.PrivateKey
    public let intermediate: Certificate

    /// A workload's certificate (leaf) and the chain it presents.
    public struct Workload: Sendable {
        public let certificate: Certificate
        public let key: P256.Signing.PrivateKey
        /// Leaf then intermediate, PEM: what the workload's certificate file holds.
        public let chainPEM: String
        public var keyPEM: String { key.pemRepresentation }
        public var serialHex: String {
            certificate.serialNumber.bytes.drop { $0 == 0 }.map { String(format: "%02X", $0) }.joined()
        }
    }

    public init(trustDomain: String = "acme.test") throws {
        self.trustDomain = trustDomain
        let now = Date()
        rootKey = P256.Signing.PrivateKey()
        let rootName = try DistinguishedName { CommonName("Sigil demo root CA") }
        root = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(rootKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 365 * 86_400, issuer: rootName, subject: rootName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 1))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(rootKey))
        intermediateKey = P256.Signing.PrivateKey()
        let intermediateName = try DistinguishedName { CommonName("Sigil demo intermediate CA") }
        intermediate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(intermediateKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 180 * 86_400, issuer: rootName,
            subject: intermediateName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(rootKey))
    }

    public var rootPEM: String { (try? root.serializeAsPEM().pemString) ?? "" }

    /// An X.509-SVID for `path` (`/ns/payments/sa/api`), issued by the intermediate.
    public func workload(
        path: String, trustDomain: String? = nil, notValidBefore: Date = Date() - 60,
        notValidAfter: Date = Date() + 3600
    ) throws -> Workload {
        let key = P256.Signing.PrivateKey()
        let spiffeID = "spiffe://\(trustDomain ?? self.trustDomain)\(path)"
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: notValidBefore,
            notValidAfter: notValidAfter, issuer: intermediate.subject,
            subject: try DistinguishedName { CommonName(String(path.split(separator: "/").last ?? "workload")) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                SubjectAlternativeNames([.uniformResourceIdentifier(spiffeID)])
            },
            issuerPrivateKey: .init(intermediateKey))
        let chain = try [certificate, intermediate].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        return Workload(certificate: certificate, key: key, chainPEM: chain + "\n")
    }

    /// A TLS server certificate for `names` (DNS) and `addresses` (IP), issued by the intermediate; the chain (leaf,
    /// intermediate) is what the server presents.
    public func server(
        names: [String] = ["localhost"], addresses: [String] = ["127.0.0.1"], notValidAfter: Date = Date() + 3600
    ) throws -> Workload {
        let key = P256.Signing.PrivateKey()
        var alternatives: [GeneralName] = names.map { .dnsName($0) }
        for address in addresses {
            var bytes = [UInt8](repeating: 0, count: 4)
            guard inet_pton(AF_INET, address, &bytes) == 1 else { continue }
            alternatives.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(bytes))))
        }
        let certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey),
            notValidBefore: min(Date() - 60, notValidAfter - 3600),
            notValidAfter: notValidAfter, issuer: intermediate.subject,
            subject: try DistinguishedName { CommonName(names.first ?? addresses.first ?? "server") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(alternatives)
            },
            issuerPrivateKey: .init(intermediateKey))
        let chain = try [certificate, intermediate].map { try $0.serializeAsPEM().pemString }.joined(separator: "\n")
        return Workload(certificate: certificate, key: key, chainPEM: chain + "\n")
    }

    /// A CRL of the intermediate revoking `revoked`, made by `openssl ca`; `nextUpdate` in the past makes a stale one.
    public func revocationList(revoking revoked: [Workload], nextUpdate: Date = Date() + 86_400) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-crl-\(UUID())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.locale = Locale(identifier: "en_US_POSIX")
        // The index (openssl's database) keeps UTCTime: a two-digit year.
        let utcTime = DateFormatter()
        utcTime.dateFormat = "yyMMddHHmmss'Z'"
        utcTime.timeZone = formatter.timeZone
        utcTime.locale = formatter.locale
        let index = revoked.map { workload in
            "R\t\(utcTime.string(from: workload.certificate.notValidAfter))\t\(utcTime.string(from: Date() - 60))\t"
                + "\(workload.serialHex)\tunknown\t/CN=revoked\n"
        }.joined()
        try index.write(toFile: "\(directory)/index.txt", atomically: true, encoding: .utf8)
        try "01\n".write(toFile: "\(directory)/crlnumber", atomically: true, encoding: .utf8)
        try """
        [ ca ]
        default_ca = demo
        [ demo ]
        database = \(directory)/index.txt
        crlnumber = \(directory)/crlnumber
        default_md = sha256
        default_crl_days = 1
        """.write(toFile: "\(directory)/ca.cnf", atomically: true, encoding: .utf8)
        try intermediate.serializeAsPEM().pemString.write(
            toFile: "\(directory)/ca.pem", atomically: true, encoding: .utf8)
        try intermediateKey.pemRepresentation.write(toFile: "\(directory)/ca.key", atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = [
            "ca", "-gencrl", "-config", "\(directory)/ca.cnf", "-keyfile", "\(directory)/ca.key", "-cert",
            "\(directory)/ca.pem", "-out", "\(directory)/crl.pem", "-crl_lastupdate",
            formatter.string(from: min(Date(), nextUpdate) - 3600), "-crl_nextupdate",
            formatter.string(from: nextUpdate),
        ]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw DemoPKIError(description: "openssl ca -gencrl failed: \(message)")
        }
        return try String(contentsOfFile: "\(directory)/crl.pem", encoding: .utf8)
    }

    struct DemoPKIError: Error, CustomStringConvertible {
        let description: String
    }
}

/// A stand-in for AWS's instance identity signing: an RSA key and certificate (the tests' own, as the real one is
/// AWS's), and documents shaped like the instance metadata service's, signed as its `signature` endpoint signs.
public struct DemoAWSIdentity: Sendable {
    let key: _RSA.Signing.PrivateKey
    public let certificate: Certificate

    public init() throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let name = try DistinguishedName {
            CountryName("US")
            OrganizationName("Sigil demo stand-in for Amazon Web Services LLC")
        }
        certificate = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: .init(key.publicKey), notValidBefore: Date() - 3600,
            notValidAfter: Date() + 365 * 86_400, issuer: name, subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions {}, issuerPrivateKey: .init(key))
    }

    public var certificatePEM: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    /// A document as `/latest/dynamic/instance-identity/document` serves it (pretty-printed JSON).
    public static func document(
        account: String = "123456789012", region: String = "eu-west-1", instance: String = "i-0abc123def4567890"
    ) -> String {
        """
        {
          "accountId" : "\(account)",
          "architecture" : "x86_64",
          "availabilityZone" : "\(region)a",
          "billingProducts" : null,
          "devpayProductCodes" : null,
          "marketplaceProductCodes" : null,
          "imageId" : "ami-0123456789abcdef0",
          "instanceId" : "\(instance)",
          "instanceType" : "t3.micro",
          "kernelId" : null,
          "pendingTime" : "2026-11-20T08:00:00Z",
          "privateIp" : "10.0.1.12",
          "ramdiskId" : null,
          "region" : "\(region)",
          "version" : "2017-09-30"
        }
        """
    }

    /// Base64 of SHA-256 with RSA (PKCS #1 v1.5) over the document's bytes, as `/instance-identity/signature`.
    public func signature(of document: String) throws -> String {
        let signature = try key.signature(for: Data(document.utf8), padding: .insecurePKCS1v1_5)
        return signature.rawRepresentation.base64EncodedString()
    }
}
