import Foundation
import SigilCrypto
import SigilEvents

/// One Ed25519 event-signing key per service role, each for its own service only, and the trust bundle of their
/// public halves that every process reads.
struct SigningKeySet {
    /// Per role: `SIGIL_SIGNING_KEY` (base64) and `SIGIL_SIGNING_KEY_ID`.
    let keys: [ServiceRole: [String: String]]
    /// The trust bundle, JSON.
    let bundle: Data

    /// Keys named `<role>-<suffix>`.
    static func generate(suffix: String) -> SigningKeySet {
        var keys: [ServiceRole: [String: String]] = [:]
        var trusted: [TrustBundle.Key] = []
        for role in ServiceRole.allCases {
            let keyID = "\(role.rawValue)-\(suffix)"
            let (signer, material) = EventSigner.generate(role: role, keyID: keyID)
            keys[role] = ["SIGIL_SIGNING_KEY": Data(material).base64EncodedString(), "SIGIL_SIGNING_KEY_ID": keyID]
            trusted.append(signer.trustedKey)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        // Strings and small integers always encode.
        return SigningKeySet(keys: keys, bundle: try! encoder.encode(TrustBundle(keys: trusted)))
    }
}
