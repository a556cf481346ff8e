/// A versioned event type, written `dev.sigil.<area>.<event>.v<version>` (e.g. `dev.sigil.access.granted.v1`).
/// `event` may itself contain dots (`config.trust-provider.defined`).
public struct EventType: Sendable, Hashable, CustomStringConvertible, Codable {
    public static let prefix = "dev.sigil."

    public let area: String
    public let event: String
    public let version: Int
    /// `dev.sigil.<area>.<event>.v<version>`, kept: every event read and written needs it (headers, signing input,
    /// audit rows), and it identifies the type, so equality and hashing use it alone.
    public let description: String

    public init(area: String, event: String, version: Int) {
        self.area = area
        self.event = event
        self.version = version
        description = "\(Self.prefix)\(area).\(event).v\(version)"
    }

    /// Parses `dev.sigil.<area>.<event>.v<version>` (no empty part, a version of digits without a leading zero);
    /// `nil` for anything else. Read as bytes: this runs for every record consumed.
    public init?(parsing text: String) {
        let utf8 = text.utf8
        guard utf8.starts(with: Self.prefix.utf8) else { return nil }
        let name = utf8.dropFirst(Self.prefix.utf8.count)
        let dot = UInt8(ascii: ".")
        guard let areaEnd = name.firstIndex(of: dot), let versionDot = name.lastIndex(of: dot), areaEnd < versionDot,
            areaEnd > name.startIndex
        else { return nil }
        let event = name[utf8.index(after: areaEnd)..<versionDot]
        let versionText = name[utf8.index(after: versionDot)...]
        guard !event.isEmpty, event.first != dot, event.last != dot,
            versionText.count >= 2, versionText.count <= 9, versionText.first == UInt8(ascii: "v"),
            versionText.dropFirst().first != UInt8(ascii: "0")
        else { return nil }
        var version = 0
        for digit in versionText.dropFirst() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            version = version * 10 + Int(digit - UInt8(ascii: "0"))
        }
        // No empty segment inside the event name (`a..b`).
        var previous: UInt8 = 0
        for byte in event {
            if byte == dot && previous == dot { return nil }
            previous = byte
        }
        self.area = String(Substring(name[..<areaEnd]))
        self.event = String(Substring(event))
        self.version = version
        description = text
    }

    /// The type without its version: what a consumer matches on before checking the version.
    public var unversioned: String { "\(Self.prefix)\(area).\(event)" }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.description == rhs.description }
    public func hash(into hasher: inout Hasher) { hasher.combine(description) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let type = EventType(parsing: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not an event type"))
        }
        self = type
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
