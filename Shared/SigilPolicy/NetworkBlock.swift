#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IP address as bytes: 4 for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack
/// listener reports) is read as the IPv4 address it carries, so `10.0.0.0/8` covers it.
package struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    package let bytes: [UInt8]

    package init?(_ text: String) {
        guard text.utf8.count <= 45, !text.contains("%") else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
            return
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let raw = withUnsafeBytes(of: &v6) { Array($0) }
        bytes = raw[0..<10].allSatisfy { $0 == 0 } && raw[10] == 0xFF && raw[11] == 0xFF ? Array(raw[12...]) : raw
    }

    package var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        var v6 = in6_addr()
        withUnsafeMutableBytes(of: &v6) { $0.copyBytes(from: bytes) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
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
        let bits = address.bytes.count * 8
        var length = bits
        if parts.count == 2 {
            guard parts[1].count <= 3, parts[1].allSatisfy(\.isASCII), let parsed = Int(parts[1]),
                (0...bits).contains(parsed)
            else { throw .badPrefixLength }
            length = parsed
        }
        let masked = Self.mask(address.bytes, length)
        guard masked == address.bytes else {
            throw .hostBitsSet("\(IPAddress(bytes: masked))/\(length)")
        }
        network = address
        prefixLength = length
    }

    package func contains(_ address: IPAddress) -> Bool {
        address.bytes.count == network.bytes.count && Self.mask(address.bytes, prefixLength) == network.bytes
    }

    static func mask(_ bytes: [UInt8], _ length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let keep = max(0, min(8, length - index * 8))
            return keep == 8 ? byte : byte & ~(UInt8(0xFF) >> keep)
        }
    }

    package var description: String { "\(network)/\(prefixLength)" }
}

extension IPAddress {
    init(bytes: [UInt8]) { self.bytes = bytes }
}
