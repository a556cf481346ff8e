import Foundation

extension Data {
    /// Base64url without padding (RFC 4648 §5): how tokens, cursors, passwords and JWK members carry bytes in URLs,
    /// headers and connection strings.
    public var base64URLEncodedString: String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// The bytes of base64url text, with or without its padding; nil for anything else (the standard alphabet's `+`
    /// and `/`, padding that does not complete the last quantum, any other character).
    public init?(base64URLEncoded text: String) {
        let unpadded = text.utf8.reversed().prefix(2).prefix { $0 == UInt8(ascii: "=") }.count
        let body = text.utf8.dropLast(unpadded)
        guard unpadded == 0 || text.utf8.count % 4 == 0,
            body.allSatisfy({ byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
        else { return nil }
        var base64 = String(decoding: body, as: UTF8.self).replacingOccurrences(of: "-", with: "+")
            .replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
