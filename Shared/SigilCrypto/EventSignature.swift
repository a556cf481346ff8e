import Foundation

/// The `sigilsignature` attribute, parsed. One event signed alone: `<keyID>:<base64 Ed25519 signature>` over its
/// signing input. One event of a batch signed at once: `<keyID>:<base64 signature>:<index>/<size>:<base64 path>`,
/// the signature over the batch tree's root (`EventBatchTree`) and the path the event's leaf walks to reach it.
struct EventSignature {
    let keyID: String
    let signature: Data
    /// The event's place in its batch's tree, and the sibling hashes up to the root; nil when signed alone.
    let batch: (index: Int, size: Int, path: [[UInt8]])?

    /// Longest attribute read: a 64-character key id, a signature and a 16-hash path fit well within it.
    static let maximumLength = 2_048

    /// Read as bytes: `split` on a String walks it a Character at a time, which for a path of a few hundred
    /// characters cost more than hashing it.
    init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count <= Self.maximumLength else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 4, !parts[0].isEmpty,
            let signature = Data(base64Encoded: Data(parts[1])), signature.count == 64
        else { return nil }
        keyID = String(decoding: parts[0], as: UTF8.self)
        self.signature = signature
        guard parts.count == 4 else {
            batch = nil
            return
        }
        let position = parts[2].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard position.count == 2, let index = Self.number(position[0]), let size = Self.number(position[1]),
            size >= 2, size <= EventBatchTree.maximumSize, index < size,
            let path = Data(base64Encoded: Data(parts[3])), !path.isEmpty, path.count % 32 == 0
        else { return nil }
        let hashes = Array(path)
        batch = (index, size, stride(from: 0, to: hashes.count, by: 32).map { Array(hashes[$0..<$0 + 32]) })
    }

    /// A decimal of at most 6 digits.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        guard (1...6).contains(digits.count) else { return nil }
        var value = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    static func single(keyID: String, signature: some DataProtocol) -> String {
        "\(keyID):\(Data(signature).base64EncodedString())"
    }

    static func batched(keyID: String, signature: String, index: Int, size: Int, path: [[UInt8]]) -> String {
        "\(keyID):\(signature):\(index)/\(size):\(Data(path.joined()).base64EncodedString())"
    }
}
