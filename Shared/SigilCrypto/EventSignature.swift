import Foundation

/// The `sigilsignature` attribute, parsed. One event signed alone: `<keyID>:<base64 Ed25519 signature>` over its
/// signing input. One event of a batch signed at once: `<keyID>:<base64 signature>:<index>/<size>:<base64 path>`,
/// the signature over the batch tree's root (`EventBatchTree`) and the path the event's leaf walks to reach it.
struct EventSignature {
    let keyID: String
    let signature: Data
    /// The event's place in its batch's tree, and the sibling hashes up to the root (concatenated); nil when signed
    /// alone.
    let batch: (index: Int, size: Int, path: [UInt8])?

    /// Longest attribute read: a 64-character key id, a signature and a 16-hash path fit well within it.
    static let maximumLength = 2_048

    /// Read as bytes: `split` on a String walks it a Character at a time, which for a path of a few hundred
    /// characters cost more than hashing it.
    init?(parsing text: String) {
        var text = text
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(keyID: String, signature: Data, batch: (index: Int, size: Int, path: [UInt8])?) {
        self.keyID = keyID
        self.signature = signature
        self.batch = batch
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> EventSignature? {
        guard bytes.count <= maximumLength else { return nil }
        let parts = bytes.split(separator: UInt8(ascii: ":"), maxSplits: 4, omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 4, !parts[0].isEmpty,
            let signature = Data(base64Encoded: Data(buffer: UnsafeBufferPointer(rebasing: parts[1]))),
            signature.count == 64
        else { return nil }
        let keyID = String(decoding: parts[0], as: UTF8.self)
        guard parts.count == 4 else { return EventSignature(keyID: keyID, signature: signature, batch: nil) }
        let position = parts[2].split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard position.count == 2, let index = number(position[0]), let size = number(position[1]),
            size >= 2, size <= EventBatchTree.maximumSize, index < size,
            let path = Data(base64Encoded: Data(buffer: UnsafeBufferPointer(rebasing: parts[3]))), !path.isEmpty,
            path.count % EventBatchTree.hashSize == 0
        else { return nil }
        return EventSignature(keyID: keyID, signature: signature, batch: (index, size, [UInt8](path)))
    }

    /// A decimal of at most 6 digits.
    private static func number(_ digits: Slice<UnsafeBufferPointer<UInt8>>) -> Int? {
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

    static func batched(keyID: String, signature: String, index: Int, size: Int, path: [UInt8]) -> String {
        "\(keyID):\(signature):\(index)/\(size):\(Data(path).base64EncodedString())"
    }
}
