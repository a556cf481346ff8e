import SigilEvents

/// A kind with types (trust providers, credential providers, log streams): an enum with one case per type, each
/// wrapping that type's spec, told apart by the spec's `type` field. Adding a type is a case and an entry in
/// `variants`; the schema, decoding and encoding follow.
public protocol VariantResourceSpec: ResourceSpec {
    static var variants: [SpecVariant<Self>] { get }
    /// This value's type name and spec, for encoding.
    var variant: (type: String, spec: any Encodable) { get }
}

/// One type of a `VariantResourceSpec`: its name, its schema (which must list `type`), and how its spec becomes the
/// kind's value.
public struct SpecVariant<Spec>: Sendable {
    public let type: String
    public let schema: SpecSchema.ObjectSchema
    let decode: @Sendable (any Decoder) throws -> Spec

    public init<Variant: Decodable>(
        _ type: String, _ schema: SpecSchema.ObjectSchema, _ wrap: @escaping @Sendable (Variant) -> Spec
    ) {
        self.type = type
        self.schema = schema
        self.decode = { decoder in wrap(try Variant(from: decoder)) }
    }
}

private enum VariantCodingKeys: String, CodingKey { case type }

extension VariantResourceSpec {
    public static var schema: SpecSchema {
        .variants(discriminator: "type", variants.map { ($0.type, $0.schema) })
    }

    /// For `init(from:)`: the variant the `type` field names.
    public static func decodeVariant(from decoder: any Decoder) throws -> Self {
        let type = try decoder.container(keyedBy: VariantCodingKeys.self).decode(String.self, forKey: .type)
        guard let variant = variants.first(where: { $0.type == type }) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown \(kind.rawValue) type \(type)"))
        }
        return try variant.decode(decoder)
    }

    /// For `encode(to:)`: the variant's fields and its `type`.
    public func encodeVariant(to encoder: any Encoder) throws {
        let (type, spec) = variant
        var container = encoder.container(keyedBy: VariantCodingKeys.self)
        try container.encode(type, forKey: .type)
        try spec.encode(to: encoder)
    }
}
