import Foundation

/// Any JSON value: the specification of a configuration resource, validated by the service that owns its kind.
public enum JSONValue: Codable, Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        // The commonest kinds first: each kind tried and not found costs a thrown error (token claims are mostly
        // strings and numbers, then objects and lists; resource specs strings and objects).
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode([String: JSONValue].self) {
            self = .object(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .bool(try container.decode(Bool.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            // Whole numbers as integers, so that `5` stays `5` through YAML and JSON Schema's integer checks.
            if value == value.rounded(), abs(value) < 9.0e15 {
                try container.encode(Int64(value))
            } else {
                try container.encode(value)
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral, ExpressibleByIntegerLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
}

extension JSONValue {
    /// Decodes a typed value from this JSON (after admission checked its shape).
    public func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try EventJSON.decoder.decode(type, from: EventJSON.encoder.encode(self))
    }

    /// The JSON of a Foundation JSON object (`[String: Any]`, `[Any]`, ...).
    public init(json object: Any) throws {
        self = try JSONDecoder().decode(
            JSONValue.self, from: JSONSerialization.data(withJSONObject: object, options: [.fragmentsAllowed]))
    }

    /// The JSON of an encodable value.
    public init(encoding value: some Encodable) throws {
        self = try EventJSON.decoder.decode(JSONValue.self, from: EventJSON.encoder.encode(value))
    }
}
