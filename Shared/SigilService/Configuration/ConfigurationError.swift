/// A configuration value that cannot be used. Names the key and what is expected, never the value (it may be a
/// secret).
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public let key: String
    public let expected: String

    public init(key: String, expected: String) {
        self.key = key
        self.expected = expected
    }

    public var description: String { "configuration \(key): \(expected)" }
}
