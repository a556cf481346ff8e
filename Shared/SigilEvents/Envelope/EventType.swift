/// A versioned event type, written `dev.sigil.<area>.<event>.v<version>` (e.g. `dev.sigil.access.granted.v1`).
/// `event` may itself contain dots (`config.trust-provider.defined`).
public struct EventType: Sendable, Hashable, CustomStringConvertible, Codable {
    public static let prefix = "dev.sigil."

    public let area: String
    public let event: String
    public let version: Int

    public init(area: String, event: String, version: Int) {
        self.area = area
        self.event = event
        self.version = version
    }

    /// Parses `dev.sigil.<area>.<event>.v<version>`; `nil` for anything else.
    public init?(parsing text: String) {
        guard text.hasPrefix(Self.prefix) else { return nil }
        let parts = text.dropFirst(Self.prefix.count).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 3, let last = parts.last, last.hasPrefix("v"), let version = Int(last.dropFirst()),
            version > 0, parts.allSatisfy({ !$0.isEmpty })
        else { return nil }
        self.area = String(parts[0])
        self.event = parts[1..<(parts.count - 1)].joined(separator: ".")
        self.version = version
    }

    /// The type without its version: what a consumer matches on before checking the version.
    public var unversioned: String { "\(Self.prefix)\(area).\(event)" }
    public var description: String { "\(unversioned).v\(version)" }

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
