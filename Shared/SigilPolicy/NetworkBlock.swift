#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address as a 128-bit number: IPv6 as it is, IPv4 in the low 32 bits with `isV4` set. An IPv4-mapped IPv6
/// address (`::ffff:10.0.0.1`, what a dual-stack listener reports) is read as the IPv4 address it carries, so
/// `10.0.0.0/8` covers it. Parsed with `inet_pton`; no heap allocation, as it is parsed on the decision path.
package struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    package let high: UInt64
    package let low: UInt64
    package let isV4: Bool

    package init?(_ text: String) {
        guard text.utf8.count <= 45, !text.utf8.contains(UInt8(ascii: "%")) else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(v4: UInt32(bigEndian: v4.s_addr))
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let (high, low) = withUnsafeBytes(of: &v6) { raw in
            (
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            )
        }
        if high == 0, low >> 32 == 0xFFFF {
            self.init(v4: UInt32(truncatingIfNeeded: low))
        } else {
            self.init(high: high, low: low, isV4: false)
        }
    }

    init(v4: UInt32) {
        high = 0
        low = UInt64(v4)
        isV4 = true
    }

    init(high: UInt64, low: UInt64, isV4: Bool) {
        self.high = high
        self.low = low
        self.isV4 = isV4
    }

    /// Network byte order: 4 bytes for IPv4, 16 for IPv6.
    package var bytes: [UInt8] {
        if isV4 { return withUnsafeBytes(of: UInt32(truncatingIfNeeded: low).bigEndian) { Array($0) } }
        return withUnsafeBytes(of: high.bigEndian) { Array($0) } + withUnsafeBytes(of: low.bigEndian) { Array($0) }
    }

    var bitCount: Int { isV4 ? 32 : 128 }

    package var description: String {
        if isV4 { return bytes.map(String.init).joined(separator: ".") }
        var v6 = in6_addr()
        let bytes = self.bytes
        withUnsafeMutableBytes(of: &v6) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The address with all but the first `length` bits cleared.
    func masked(_ length: Int) -> IPAddress {
        // IPv4 lives in the low 32 bits: its prefix starts at bit 96 of the 128.
        let keep = isV4 ? length + 96 : length
        let highMask: UInt64 = keep >= 64 ? .max : (keep <= 0 ? 0 : ~(UInt64.max >> keep))
        let lowMask: UInt64 = keep >= 128 ? .max : (keep <= 64 ? 0 : ~(UInt64.max >> (keep - 64)))
        return IPAddress(high: high & highMask, low: low & lowMask, isV4: isV4)
    }
}

/// A CIDR block (`10.0.0.0/8`, `2001:db8::/32`; a bare address is one host). Its host bits must be zero, so
/// `10.1.2.3/8` is refused rather than silently read as `10.0.0.0/8`.
package struct NetworkBlock: Sendable, Hashable, CustomStringConvertible {
    package let network: IPAddress
    package let prefixLength: Int

    package enum Problem: Error, Equatable {
        case notAnAddress, badPrefixLength, hostBitsSet(String)
    }

    package init(parsing text: String) throws(Problem) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let address = IPAddress(String(parts[0])) else { throw .notAnAddress }
        var length = address.bitCount
        if parts.count == 2 {
            guard parts[1].count <= 3, parts[1].allSatisfy(\.isASCII), let parsed = Int(parts[1]),
                (0...address.bitCount).contains(parsed)
            else { throw .badPrefixLength }
            length = parsed
        }
        let masked = address.masked(length)
        guard masked == address else { throw .hostBitsSet("\(masked)/\(length)") }
        network = address
        prefixLength = length
    }

    package func contains(_ address: IPAddress) -> Bool {
        address.isV4 == network.isV4 && address.masked(prefixLength) == network
    }

    package var description: String { "\(network)/\(prefixLength)" }
}
