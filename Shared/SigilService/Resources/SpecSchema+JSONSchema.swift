import SigilEvents

extension SpecSchema {
    /// The schema as JSON Schema (2020-12, the dialect of OpenAPI 3.1), for the OpenAPI document.
    public var jsonSchema: JSONValue {
        switch self {
        case .string(let rule):
            var schema: [String: JSONValue] = [
                "type": "string", "minLength": .number(Double(rule.minLength)),
                "maxLength": .number(Double(rule.maxLength)),
            ]
            if let pattern = rule.pattern { schema["pattern"] = .string(pattern.regex) }
            if let choices = rule.choices { schema["enum"] = .array(choices.map(JSONValue.string)) }
            return .object(schema)
        case .integer(let minimum, let maximum):
            return ["type": "integer", "minimum": .number(Double(minimum)), "maximum": .number(Double(maximum))]
        case .boolean:
            return ["type": "boolean"]
        case .array(let items, let minItems, let maxItems):
            return [
                "type": "array", "items": items.jsonSchema, "minItems": .number(Double(minItems)),
                "maxItems": .number(Double(maxItems)),
            ]
        case .object(let object):
            return object.jsonSchema(discriminator: nil)
        case .map(let values, let maxEntries):
            return [
                "type": "object", "additionalProperties": values.jsonSchema,
                "maxProperties": .number(Double(maxEntries)),
            ]
        case .json:
            return ["type": "object", "description": "Free-form JSON, checked by the kind."]
        case .variants(let discriminator, let choices):
            return [
                "oneOf": .array(choices.map { $0.schema.jsonSchema(discriminator: (discriminator, $0.value)) })
            ]
        }
    }
}

extension SpecSchema.ObjectSchema {
    func jsonSchema(discriminator: (field: String, value: String)?) -> JSONValue {
        var properties: [String: JSONValue] = [:]
        for property in self.properties {
            guard case .object(var schema) = property.schema.jsonSchema else { continue }
            schema["description"] = .string(property.description)
            if let defaultValue = property.defaultValue { schema["default"] = defaultValue }
            if property.readOnly { schema["readOnly"] = true }
            if property.writeOnly { schema["writeOnly"] = true }
            if let discriminator, discriminator.field == property.name {
                schema["enum"] = [.string(discriminator.value)]
            } else if !property.required || property.defaultValue != nil {
                // Admission reads null as absent (as Kubernetes does: `labels:` with nothing after it in YAML).
                schema = Self.nullable(schema)
            }
            properties[property.name] = .object(schema)
        }
        var schema: [String: JSONValue] = [
            "type": "object", "description": .string(description), "properties": .object(properties),
            "additionalProperties": false,
        ]
        let required = self.properties.filter { $0.required && $0.defaultValue == nil }.map(\.name)
        if !required.isEmpty { schema["required"] = .array(required.map(JSONValue.string)) }
        return .object(schema)
    }

    /// The schema, or null.
    static func nullable(_ schema: [String: JSONValue]) -> [String: JSONValue] {
        var schema = schema
        if case .string(let type)? = schema["type"] { schema["type"] = [.string(type), "null"] }
        if case .array(let choices)? = schema["enum"] { schema["enum"] = .array(choices + [.null]) }
        if case .array(let variants)? = schema["oneOf"] { schema["oneOf"] = .array(variants + [["type": "null"]]) }
        return schema
    }
}
