import SigilEvents

/// Reads fields of a submitted spec, refusing with a problem that names the field.
public struct SpecReader: Sendable {
    public let spec: JSONValue
    public let prefix: String

    public init(_ spec: JSONValue, prefix: String = "spec") {
        self.spec = spec
        self.prefix = prefix
    }

    public func field(_ key: String) -> String { "\(prefix).\(key)" }

    public func string(_ key: String) throws -> String {
        guard let value = spec[key] else { throw ProblemDetails.invalidField(field(key), "\(field(key)) is required") }
        guard case .string(let text) = value, !text.isEmpty else {
            throw ProblemDetails.invalidField(field(key), "\(field(key)) must be a non-empty string")
        }
        return text
    }

    public func optionalString(_ key: String) throws -> String? {
        guard spec[key] != nil, spec[key] != .null else { return nil }
        return try string(key)
    }

    public func int(_ key: String, in range: ClosedRange<Int>, default defaultValue: Int? = nil) throws -> Int {
        guard let value = spec[key], value != .null else {
            if let defaultValue { return defaultValue }
            throw ProblemDetails.invalidField(field(key), "\(field(key)) is required")
        }
        guard case .number(let number) = value, number == number.rounded(), range.contains(Int(number)) else {
            throw ProblemDetails.invalidField(
                field(key), "\(field(key)) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return Int(number)
    }

    public func oneOf(_ key: String, _ choices: [String], default defaultValue: String? = nil) throws -> String {
        guard let value = try optionalString(key) ?? defaultValue else {
            throw ProblemDetails.invalidField(field(key), "\(field(key)) is required")
        }
        guard choices.contains(value) else {
            throw ProblemDetails.invalidField(
                field(key), "\(field(key)) must be one of \(choices.joined(separator: ", "))")
        }
        return value
    }

    public func stringArray(_ key: String, default defaultValue: [String]? = nil) throws -> [String] {
        guard let value = spec[key], value != .null else {
            if let defaultValue { return defaultValue }
            throw ProblemDetails.invalidField(field(key), "\(field(key)) is required")
        }
        guard case .array(let items) = value, !items.isEmpty else {
            throw ProblemDetails.invalidField(field(key), "\(field(key)) must be a non-empty list of strings")
        }
        return try items.map {
            guard case .string(let text) = $0, !text.isEmpty else {
                throw ProblemDetails.invalidField(field(key), "\(field(key)) must be a non-empty list of strings")
            }
            return text
        }
    }

    public func object(_ key: String) throws -> SpecReader {
        guard case .object = spec[key] else {
            throw ProblemDetails.invalidField(field(key), "\(field(key)) must be an object")
        }
        return SpecReader(spec[key]!, prefix: field(key))
    }

    /// Refuses keys the kind does not define (a typo must not silently weaken a policy).
    public func allowOnly(_ keys: Set<String>) throws {
        guard case .object(let object) = spec else { return }
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw ProblemDetails.invalidField(field(unknown), "\(field(unknown)) is not a field of this kind")
        }
    }
}
