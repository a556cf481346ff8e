import Foundation
import SigilEvents

/// The structural schema of a resource document, as a Kubernetes CRD carries one: admission checks a submitted
/// document against it (unknown fields, types, ranges, patterns, sizes) and fills in defaults before the document is
/// decoded into its kind's Swift type; the OpenAPI document shows the same schema, so the two never disagree.
///
/// Hand-written rather than taken from OpenAPIKit: OpenAPIKit models schemas but does not validate instances, and
/// admission needs instance validation with field paths in every refusal.
public indirect enum SpecSchema: Sendable {
    case string(StringRule)
    case integer(minimum: Int, maximum: Int)
    case boolean
    case array(of: SpecSchema, minItems: Int, maxItems: Int)
    case object(ObjectSchema)
    /// String keys to values of one schema (labels).
    case map(of: SpecSchema, maxEntries: Int)
    /// A JSON object of any content up to a size and depth, checked by the kind itself (an inline JSON Web Key Set).
    case json(maxBytes: Int)
    /// An object whose `discriminator` field picks one of several object schemas (a kind's types).
    case variants(discriminator: String, [(value: String, schema: ObjectSchema)])

    public struct StringRule: Sendable {
        public var minLength = 1
        public var maxLength = 253
        /// A regular expression the whole value must match, and how to say so to a person.
        public var pattern: (regex: String, meaning: String)?
        public var choices: [String]?
        /// Line breaks and tabs allowed (PEM text); other control characters never are.
        public var multiline = false

        public init(
            minLength: Int = 1, maxLength: Int = 253, pattern: (regex: String, meaning: String)? = nil,
            choices: [String]? = nil, multiline: Bool = false
        ) {
            self.minLength = minLength
            self.maxLength = maxLength
            self.pattern = pattern
            self.choices = choices
            self.multiline = multiline
        }
    }

    public struct Property: Sendable {
        public var name: String
        public var schema: SpecSchema
        public var required: Bool
        public var defaultValue: JSONValue?
        public var description: String
        /// Set by the service; accepted back (so `get -o yaml` round-trips) but never required.
        public var readOnly: Bool
        /// Accepted, never shown (a secret).
        public var writeOnly: Bool

        public init(
            _ name: String, _ schema: SpecSchema, required: Bool = false, default defaultValue: JSONValue? = nil,
            readOnly: Bool = false, writeOnly: Bool = false, _ description: String
        ) {
            self.name = name
            self.schema = schema
            self.required = required
            self.defaultValue = defaultValue
            self.description = description
            self.readOnly = readOnly
            self.writeOnly = writeOnly
        }
    }

    public struct ObjectSchema: Sendable {
        public var properties: [Property]
        public var description: String

        public init(_ description: String, _ properties: [Property]) {
            self.description = description
            self.properties = properties
        }
    }

    public static func object(_ description: String, _ properties: [Property]) -> SpecSchema {
        .object(ObjectSchema(description, properties))
    }

    public static func string(
        maxLength: Int = 253, pattern: (regex: String, meaning: String)? = nil, choices: [String]? = nil
    ) -> SpecSchema {
        .string(StringRule(maxLength: maxLength, pattern: pattern, choices: choices))
    }

    /// Lower-case letters, digits and dashes, 1 to 63 characters, starting and ending with a letter or digit.
    public static let dnsLabel = (
        regex: "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        meaning: "1-63 lower-case letters, digits and dashes, starting and ending with a letter or digit"
    )

    /// PEM text (certificates): several lines.
    public static let pem = SpecSchema.string(StringRule(maxLength: 65_536, multiline: true))

    /// The name of another resource.
    public static let reference = SpecSchema.string(maxLength: 63, pattern: dnsLabel)
}

extension SpecSchema {
    /// Checks `value` and returns it with defaults filled in; refuses naming the field at fault (`spec.port`,
    /// `spec.audiences[1]`).
    public func admit(_ value: JSONValue, at path: String) throws(ProblemDetails) -> JSONValue {
        switch self {
        case .string(let rule):
            guard case .string(let text) = value else { throw Self.refuse(path, "must be a string") }
            try rule.check(text, at: path)
            return value
        case .integer(let minimum, let maximum):
            guard case .number(let number) = value, number == number.rounded(), number >= Double(minimum),
                number <= Double(maximum)
            else { throw Self.refuse(path, "must be an integer from \(minimum) to \(maximum)") }
            return value
        case .boolean:
            guard case .bool = value else { throw Self.refuse(path, "must be true or false") }
            return value
        case .array(let items, let minItems, let maxItems):
            guard case .array(let elements) = value else { throw Self.refuse(path, "must be a list") }
            guard (minItems...maxItems).contains(elements.count) else {
                throw Self.refuse(path, "must have \(minItems) to \(maxItems) items")
            }
            var admitted: [JSONValue] = []
            for (index, element) in elements.enumerated() {
                admitted.append(try items.admit(element, at: "\(path)[\(index)]"))
            }
            return .array(admitted)
        case .object(let object):
            return try object.admit(value, at: path)
        case .map(let values, let maxEntries):
            guard case .object(let entries) = value else { throw Self.refuse(path, "must be a mapping") }
            guard entries.count <= maxEntries else {
                throw Self.refuse(path, "must have at most \(maxEntries) entries")
            }
            var admitted: [String: JSONValue] = [:]
            for (key, entry) in entries {
                try Self.labelKey.check(key, at: Self.join(path, key))
                admitted[key] = try values.admit(entry, at: Self.join(path, key))
            }
            return .object(admitted)
        case .json(let maxBytes):
            guard case .object = value else { throw Self.refuse(path, "must be a mapping") }
            try Self.checkFreeForm(value, at: path, depth: 0)
            guard (try? EventJSON.encoder.encode(value).count).map({ $0 <= maxBytes }) ?? false else {
                throw Self.refuse(path, "must be at most \(maxBytes / 1024) KiB of JSON")
            }
            return value
        case .variants(let discriminator, let choices):
            guard case .object = value else { throw Self.refuse(path, "must be a mapping") }
            let names = choices.map(\.value)
            guard case .string(let chosen) = value[discriminator] else {
                throw Self.refuse(
                    Self.join(path, discriminator), "is required: one of \(names.joined(separator: ", "))")
            }
            guard let schema = choices.first(where: { $0.value == chosen })?.schema else {
                throw Self.refuse(Self.join(path, discriminator), "must be one of \(names.joined(separator: ", "))")
            }
            return try schema.admit(value, at: path)
        }
    }

    static let labelKey = StringRule(
        maxLength: 63, pattern: (regex: "^[A-Za-z0-9]([-A-Za-z0-9_./]{0,61}[A-Za-z0-9])?$", meaning: "a label key"))

    /// `spec` + `port` → `spec.port`; at the document's root, just the field.
    static func join(_ path: String, _ field: String) -> String { path.isEmpty ? field : "\(path).\(field)" }

    static func refuse(_ path: String, _ message: String) -> ProblemDetails {
        ProblemDetails.invalidField(path, path.isEmpty ? "the document \(message)" : "\(path) \(message)")
    }

    /// Free-form JSON may not nest deeper than 16 levels nor carry a NUL (PostgreSQL's jsonb cannot store one).
    static func checkFreeForm(_ value: JSONValue, at path: String, depth: Int) throws(ProblemDetails) {
        guard depth < 16 else { throw refuse(path, "nests too deeply") }
        switch value {
        case .string(let text):
            if text.unicodeScalars.contains("\0") { throw refuse(path, "must not contain NUL characters") }
        case .array(let elements):
            for element in elements { try checkFreeForm(element, at: path, depth: depth + 1) }
        case .object(let object):
            for (key, element) in object {
                if key.unicodeScalars.contains("\0") { throw refuse(path, "must not contain NUL characters") }
                try checkFreeForm(element, at: path, depth: depth + 1)
            }
        default: break
        }
    }
}

extension SpecSchema.ObjectSchema {
    func admit(_ value: JSONValue, at path: String) throws(ProblemDetails) -> JSONValue {
        guard case .object(let fields) = value else { throw SpecSchema.refuse(path, "must be a mapping") }
        let known = Set(properties.map(\.name))
        if let unknown = fields.keys.sorted().first(where: { !known.contains($0) }) {
            throw SpecSchema.refuse(
                SpecSchema.join(path, unknown),
                path.isEmpty ? "is not a field of a resource document" : "is not a field of \(path)")
        }
        var admitted: [String: JSONValue] = [:]
        for property in properties {
            let fieldPath = SpecSchema.join(path, property.name)
            switch fields[property.name] {
            case nil, .null?:
                if let defaultValue = property.defaultValue {
                    admitted[property.name] = defaultValue
                } else if property.required {
                    throw SpecSchema.refuse(fieldPath, "is required")
                }
            case let field?:
                admitted[property.name] = try property.schema.admit(field, at: fieldPath)
            }
        }
        return .object(admitted)
    }
}

extension SpecSchema.StringRule {
    func check(_ text: String, at path: String) throws(ProblemDetails) {
        let length = text.unicodeScalars.count
        guard length >= minLength else {
            throw SpecSchema.refuse(
                path, minLength == 1 ? "must not be empty" : "must be at least \(minLength) characters")
        }
        guard length <= maxLength else { throw SpecSchema.refuse(path, "must be at most \(maxLength) characters") }
        // Control characters never belong in configuration (and NUL cannot be stored); PEM text has line breaks.
        let allowed: Set<UInt32> = multiline ? [0x09, 0x0A, 0x0D] : []
        guard
            !text.unicodeScalars.contains(where: {
                ($0.value < 0x20 || $0.value == 0x7F) && !allowed.contains($0.value)
            })
        else {
            throw SpecSchema.refuse(path, "must not contain control characters")
        }
        if let choices, !choices.contains(text) {
            throw SpecSchema.refuse(path, "must be one of \(choices.joined(separator: ", "))")
        }
        if let pattern, (try? Regex(pattern.regex).wholeMatch(in: text)) == nil {
            throw SpecSchema.refuse(path, "must be \(pattern.meaning)")
        }
    }
}
