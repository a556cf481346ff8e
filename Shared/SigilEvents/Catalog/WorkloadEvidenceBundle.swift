import Foundation

/// What an edge seals into an access request: each kind of evidence it is configured to gather. Sealed (HPKE, bound
/// to the request) and opened only by the attestation service; never on the bus in clear. An edge of an earlier
/// version seals a bare token instead, which still reads as a bundle of one token.
public struct WorkloadEvidenceBundle: Codable, Sendable, Hashable {
    /// JWTs: Kubernetes service-account tokens, CI job tokens, OIDC ID tokens.
    public var tokens: [String]

    /// More pieces than any configuration needs are refused.
    public static let maximumTokens = 8
    public static let maximumBytes = 192 * 1024

    public init(tokens: [String] = []) {
        self.tokens = tokens
    }

    /// A JSON object, or (an earlier edge) one token as it is.
    public static func decode(_ plaintext: [UInt8]) throws -> WorkloadEvidenceBundle {
        guard plaintext.count <= maximumBytes else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "too large")) }
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
    }

    public var isEmpty: Bool { tokens.isEmpty }
}
