import SigilEvents

/// The schema of a whole resource document (the envelope around a kind's spec), as submitted and as served.
enum ResourceDocumentSchema {
    static func document(_ definition: ResourceDefinition) -> SpecSchema { .object(object(definition, inSet: false)) }

    /// `inSet`: one document of a set (`POST /v1/apply`), which has no path to give its kind and name: both required.
    static func object(_ definition: ResourceDefinition, inSet: Bool) -> SpecSchema.ObjectSchema {
        SpecSchema.ObjectSchema(
            "A \(definition.kind.rawValue): \(definition.summary)",
            [
                .init(
                    "apiVersion", .string(choices: [SigilAPI.version]), default: .string(SigilAPI.version),
                    "The API version of every Sigil kind."),
                .init(
                    "kind", .string(choices: [definition.kind.rawValue]), required: inSet,
                    default: inSet ? nil : .string(definition.kind.rawValue),
                    inSet ? "The kind." : "The kind; must match the path."),
                .init(
                    "metadata", inSet ? namedMetadata : metadata, required: true,
                    "Name, labels, and what the service sets."),
                .init("spec", definition.schema, required: true, "What the resource is."),
            ])
    }

    static let labelValue = SpecSchema.string(
        .init(
            minLength: 0, maxLength: 63,
            pattern: (
                regex: "^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$",
                meaning: "at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
            )))

    static let metadata = metadata(nameRequired: false)
    static let namedMetadata = metadata(nameRequired: true)

    static func metadata(nameRequired: Bool) -> SpecSchema {
        .object(
            "Standard metadata, as Kubernetes' ObjectMeta.",
            [
                .init(
                    "name", .string(maxLength: 63, pattern: SpecSchema.dnsLabel), required: nameRequired,
                    nameRequired
                        ? "Unique per kind in the tenant."
                        : "Unique per kind in the tenant; the name in the path, which it must match if given."),
                .init("labels", .map(of: labelValue, maxEntries: 64), default: [:], "Free key/value pairs."),
                .init(
                    "resourceVersion", .string(maxLength: 64),
                    "Set by the service on every write. Sent back, the write applies only over this version (409 otherwise)."
                ),
                .init("tenant", .string(maxLength: 63), readOnly: true, "The token's tenant."),
                .init("uid", .string(maxLength: 64), readOnly: true, "Stays the same for the resource's life."),
                .init(
                    "generation", .integer(minimum: 0, maximum: Int(Int32.max)), readOnly: true, "Counts spec changes."),
                .init("createdAt", .string(maxLength: 64), readOnly: true, "RFC 3339."),
                .init("updatedAt", .string(maxLength: 64), readOnly: true, "RFC 3339."),
                .init(
                    "createdBy", .string(maxLength: 128), readOnly: true, "The name of the admin token that created it."
                ),
            ])
    }
}

/// What admission reads of a submitted document's metadata (the rest is the service's to set).
struct SubmittedMetadata: Decodable {
    let name: String?
    let labels: [String: String]
    let resourceVersion: String?
    let tenant: String?
}
