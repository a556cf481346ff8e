import Foundation

/// UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits, so ids sort by creation time.
public enum UUIDv7 {
    public static func generate(at date: Date = Date()) -> String {
        var generator = SystemRandomNumberGenerator()
        let milliseconds = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        var bytes = [UInt8](repeating: 0, count: 16)
        for index in 0..<6 {
            bytes[index] = UInt8(truncatingIfNeeded: milliseconds >> (8 * (5 - UInt64(index))))
        }
        for index in 6..<16 {
            bytes[index] = UInt8.random(in: 0...255, using: &generator)
        }
        return format(bytes, version: 7)
    }

    /// 16 bytes as an RFC 9562 UUID of the version, lowercase: the version nibble and the variant bits are set.
    public static func format(_ bytes: [UInt8], version: UInt8) -> String {
        precondition(bytes.count >= 16 && version < 16)
        var bytes = bytes
        bytes[6] = (bytes[6] & 0x0F) | (version << 4)
        bytes[8] = (bytes[8] & 0x3F) | 0x80  // RFC 9562 variant
        let uuid = UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
        return uuid.uuidString.lowercased()
    }
}
