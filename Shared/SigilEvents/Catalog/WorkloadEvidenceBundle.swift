import Foundation

/// What an edge seals into an access request: each kind of evidence it is configured to gather. Sealed (HPKE, bound
/// to the request) and opened only by the attestation service; never on the bus in clear. An edge of an earlier
/// version seals a bare token instead, which still reads as a bundle of one token.
public struct WorkloadEvidenceBundle: Codable, Sendable, Hashable {
    /// JWTs: Kubernetes service-account tokens, CI job tokens, OIDC ID tokens.
    public var tokens: [String]
    /// A certificate chain and proof of its key, made for this request.
    public var x509: X509Evidence?
    /// A one-time join token an administrator created (`sigil token create`).
    public var joinToken: String?
    /// A cloud instance's signed identity document.
    public var awsInstanceIdentity: AWSInstanceIdentityEvidence?

    /// More pieces than any configuration needs are refused.
    public static let maximumTokens = 8
    public static let maximumBytes = 192 * 1024

    public init(
        tokens: [String] = [], x509: X509Evidence? = nil, joinToken: String? = nil,
        awsInstanceIdentity: AWSInstanceIdentityEvidence? = nil
    ) {
        self.tokens = tokens
        self.x509 = x509
        self.joinToken = joinToken
        self.awsInstanceIdentity = awsInstanceIdentity
    }

    /// A JSON object, or (an earlier edge) one token as it is.
    public static func decode(_ plaintext: [UInt8]) throws -> WorkloadEvidenceBundle {
        guard plaintext.count <= maximumBytes else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "too large"))
        }
        let first = plaintext.first { !($0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09) }
        guard first == UInt8(ascii: "{") else {
            guard let token = String(validating: plaintext, as: UTF8.self) else {
                throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "not UTF-8"))
            }
            return WorkloadEvidenceBundle(tokens: [token.trimmingCharacters(in: .whitespacesAndNewlines)])
        }
        return try JSONDecoder().decode(WorkloadEvidenceBundle.self, from: Data(plaintext))
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tokens = try container.decodeIfPresent([String].self, forKey: .tokens) ?? []
        x509 = try container.decodeIfPresent(X509Evidence.self, forKey: .x509)
        joinToken = try container.decodeIfPresent(String.self, forKey: .joinToken)
        awsInstanceIdentity = try container.decodeIfPresent(
            AWSInstanceIdentityEvidence.self, forKey: .awsInstanceIdentity)
    }

    public var isEmpty: Bool { tokens.isEmpty && x509 == nil && joinToken == nil && awsInstanceIdentity == nil }
}

/// A workload's certificate chain (DER, leaf first) and a signature by the leaf's key over `proofMessage` of this
/// request: possession of the key, not just a copy of the (public) certificate.
public struct X509Evidence: Codable, Sendable, Hashable {
    public var chain: [Base64Bytes]
    public var proof: Base64Bytes

    public init(chain: [[UInt8]], proof: [UInt8]) {
        self.chain = chain.map(Base64Bytes.init)
        self.proof = Base64Bytes(proof)
    }

    /// What the leaf's key signs: a fixed label, the tenant and the request id (each request is proven anew).
    public static func proofMessage(tenant: String, requestID: String) -> [UInt8] {
        Array("sigil-x509-proof-v1".utf8) + [0] + Array(tenant.utf8) + [0] + Array(requestID.utf8)
    }
}

/// An EC2 instance identity document exactly as the instance metadata service served it, and its `signature`
/// (base64 SHA-256 with RSA, by the region's AWS certificate).
public struct AWSInstanceIdentityEvidence: Codable, Sendable, Hashable {
    public var document: Base64Bytes
    public var signature: Base64Bytes

    public init(document: [UInt8], signature: [UInt8]) {
        self.document = Base64Bytes(document)
        self.signature = Base64Bytes(signature)
    }
}
