import Crypto
import Foundation
import SigilEvents
import SigilService

/// Type `join-token`: one-time tokens an administrator creates (`sigil token create`) to bootstrap a machine that
/// has no other identity yet (a VM): each admits exactly one access request, however many attestation replicas run.
package struct JoinTokenTrustSpec: Codable, Sendable, Equatable {
    static let type = "join-token"
    static let schema = SpecSchema.ObjectSchema(
        "One-time tokens an administrator creates, for bootstrapping machines.",
        [
            .init("type", .string(choices: [type]), required: true, "The trust provider's type."),
            .init(
                "maxTTLSeconds", .integer(minimum: 60, maximum: 30 * 86_400), default: 86_400,
                "Longest life a token of this provider may be given."),
        ])

    package var maxTTLSeconds: Int
}

/// A join token as the holder sees it: `sigil-join.<id>.<secret>`, the id naming it in lists and events, the
/// secret (256 random bits) known only to the holder. Only the secret's SHA-256 is stored.
package struct JoinToken: Sendable, Equatable {
    package let id: String
    package let secretHash: [UInt8]

    static let prefix = "sigil-join."

    /// A new token: what to hand out (once) and what to keep.
    package static func generate() -> (token: String, joinToken: JoinToken) {
        let id = (0..<8).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
        var secret = [UInt8](repeating: 0, count: 32)
        for index in secret.indices { secret[index] = UInt8.random(in: 0...255) }
        let encoded = Data(secret).base64URLEncodedString
        let token = "\(prefix)\(id).\(encoded)"
        return (token, JoinToken(id: id, secretHash: Array(SHA256.hash(data: Array(encoded.utf8)))))
    }

    /// The token's id and secret hash, or nil for anything not shaped like a join token.
    package init?(presented token: String) {
        guard token.utf8.count <= 128, token.hasPrefix(Self.prefix) else { return nil }
        let parts = token.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].utf8.count == 16, parts[0].allSatisfy(\.isHexDigit),
            (40...64).contains(parts[1].utf8.count),
            parts[1].unicodeScalars.allSatisfy({
                $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_")
            })
        else { return nil }
        self.init(id: String(parts[0]), secretHash: Array(SHA256.hash(data: Array(parts[1].utf8))))
    }

    init(id: String, secretHash: [UInt8]) {
        self.id = id
        self.secretHash = secretHash
    }
}

/// What redeeming a join token came to.
package enum JoinTokenRedemption: Sendable, Equatable {
    /// Taken now by this request (or, the same request delivered again, by it before).
    case redeemed(trustProvider: String, name: String)
    case alreadyUsed
    case expired
    case unknown
}

/// Where join tokens are kept and taken, exactly once across every attestation replica (PostgreSQL).
package protocol JoinTokenRedeemer: Sendable {
    func redeem(_ token: JoinToken, tenant: String, requestID: String) async throws -> JoinTokenRedemption
}
