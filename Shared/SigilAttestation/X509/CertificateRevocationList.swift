import Foundation
import SwiftASN1
import X509

/// An X.509 certificate revocation list (RFC 5280 section 5): who issued it, until when it is current, and the serial
/// numbers it revokes. swift-certificates reads certificates but not CRLs, so the DER is read here with SwiftASN1
/// (the same parser swift-certificates uses); the signature is checked with swift-certificates' public keys.
struct CertificateRevocationList: Sendable {
    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    let issuer: DistinguishedName
    let thisUpdate: Date
    let nextUpdate: Date?
    let revokedSerials: Set<[UInt8]>
    private let signedBytes: [UInt8]
    private let signatureAlgorithm: Certificate.SignatureAlgorithm
    private let signature: [UInt8]

    /// The signature algorithms a CRL may use, by object identifier (those swift-certificates verifies).
    private static let algorithms: [ASN1ObjectIdentifier: Certificate.SignatureAlgorithm] = [
        [1, 2, 840, 10045, 4, 3, 2]: .ecdsaWithSHA256,
        [1, 2, 840, 10045, 4, 3, 3]: .ecdsaWithSHA384,
        [1, 2, 840, 10045, 4, 3, 4]: .ecdsaWithSHA512,
        [1, 2, 840, 113549, 1, 1, 11]: .sha256WithRSAEncryption,
        [1, 2, 840, 113549, 1, 1, 12]: .sha384WithRSAEncryption,
        [1, 2, 840, 113549, 1, 1, 13]: .sha512WithRSAEncryption,
        [1, 3, 101, 112]: .ed25519,
    ]

    /// Every `X509 CRL` block of PEM text.
    static func parse(pem: String) throws -> [CertificateRevocationList] {
        try PEMDocument.parseMultiple(pemString: pem).map { document in
            guard document.discriminator == "X509 CRL" else {
                throw Malformed(description: "a \(document.discriminator) block where an X509 CRL was expected")
            }
            return try CertificateRevocationList(der: document.derBytes)
        }
    }

    init(der: [UInt8]) throws {
        let root = try DER.parse(der)
        var parsed: (DistinguishedName, Date, Date?, Set<[UInt8]>, [UInt8])?
        var algorithm: ASN1ObjectIdentifier?
        var signatureBits: ASN1BitString?
        try DER.sequence(root, identifier: .sequence) { nodes in
            guard let tbs = nodes.next(), let algorithmNode = nodes.next(), let signatureNode = nodes.next() else {
                throw Malformed(description: "a CRL has three parts: the list, the algorithm, the signature")
            }
            parsed = try Self.list(tbs)
            algorithm = try DER.sequence(algorithmNode, identifier: .sequence) { parts in
                try ASN1ObjectIdentifier(derEncoded: &parts)
            }
            signatureBits = try ASN1BitString(derEncoded: signatureNode)
        }
        guard let parsed, let algorithm, let signatureBits else { throw Malformed(description: "an incomplete CRL") }
        guard let signatureAlgorithm = Self.algorithms[algorithm] else {
            throw Malformed(description: "the CRL's signature algorithm \(algorithm) is not supported")
        }
        (issuer, thisUpdate, nextUpdate, revokedSerials, signedBytes) = parsed
        self.signatureAlgorithm = signatureAlgorithm
        signature = Array(signatureBits.bytes)
    }

    /// TBSCertList: version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] extensions?
    private static func list(
        _ node: ASN1Node
    ) throws -> (DistinguishedName, Date, Date?, Set<[UInt8]>, [UInt8]) {
        try DER.sequence(node, identifier: .sequence) { fields in
            var field = fields.next()
            if field?.identifier == .integer { field = fields.next() }  // version (v2)
            field = fields.next()  // the signature algorithm, repeated; the outer one is used
            guard let issuerNode = field else { throw Malformed(description: "the CRL names no issuer") }
            let issuer = try DistinguishedName(derEncoded: issuerNode)
            guard let thisUpdateNode = fields.next() else { throw Malformed(description: "the CRL has no thisUpdate") }
            let thisUpdate = try time(thisUpdateNode)
            var nextUpdate: Date?
            field = fields.next()
            if let node = field, node.identifier == .utcTime || node.identifier == .generalizedTime {
                nextUpdate = try time(node)
                field = fields.next()
            }
            var revoked = Set<[UInt8]>()
            if let node = field, node.identifier == .sequence {
                guard case .constructed(let entries) = node.content else {
                    throw Malformed(description: "the CRL's revoked list is not a sequence")
                }
                for entry in entries {
                    let serial = try DER.sequence(entry, identifier: .sequence) { parts in
                        guard let serialNode = parts.next() else {
                            throw Malformed(description: "a revoked entry without a serial number")
                        }
                        while parts.next() != nil {}  // revocation date and entry extensions: not needed
                        return try ArraySlice<UInt8>(derEncoded: serialNode)
                    }
                    revoked.insert(Self.normalized(serial))
                }
            }
            while fields.next() != nil {}  // CRL extensions
            return (issuer, thisUpdate, nextUpdate, revoked, Array(node.encodedBytes))
        }
    }

    private static func time(_ node: ASN1Node) throws -> Date {
        var components = DateComponents()
        components.timeZone = TimeZone(identifier: "UTC")
        if node.identifier == .utcTime {
            let time = try UTCTime(derEncoded: node)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        } else {
            let time = try GeneralizedTime(derEncoded: node)
            (components.year, components.month, components.day) = (time.year, time.month, time.day)
            (components.hour, components.minute, components.second) = (time.hours, time.minutes, time.seconds)
        }
        guard let date = Calendar(identifier: .gregorian).date(from: components) else {
            throw Malformed(description: "a CRL time that is not a date")
        }
        return date
    }

    /// Whether `issuer` (a CA certificate) signed this list.
    func isSigned(by issuer: Certificate) -> Bool {
        issuer.subject == self.issuer
            && issuer.publicKey.isValidSignature(signature, for: signedBytes, signatureAlgorithm: signatureAlgorithm)
    }

    func revokes(_ certificate: Certificate) -> Bool {
        revokedSerials.contains(Self.normalized(certificate.serialNumber.bytes))
    }

    /// A serial number's bytes without the leading zeros DER may add (so both sides compare alike).
    static func normalized(_ serial: ArraySlice<UInt8>) -> [UInt8] {
        Array(serial.drop { $0 == 0 })
    }
}
