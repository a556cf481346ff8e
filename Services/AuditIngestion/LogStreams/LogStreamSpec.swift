import SigilEvents
import SigilService

/// A log stream: where the tenant's audit records are delivered. One type today; each type is a case with its own
/// spec and schema.
enum LogStreamSpec: VariantResourceSpec {
    case file(FileLogStream)

    static let kind = ResourceKind.logStream
    static let summary = "Where the tenant's audit records are delivered as they are written."
    static let variants: [SpecVariant<Self>] = [.init(FileLogStream.type, FileLogStream.schema, Self.file)]

    init(from decoder: any Decoder) throws { self = try Self.decodeVariant(from: decoder) }
    func encode(to encoder: any Encoder) throws { try encodeVariant(to: encoder) }

    var variant: (type: String, spec: any Encodable) {
        switch self {
        case .file(let spec): return (FileLogStream.type, spec)
        }
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        switch self {
        case .file(let spec):
            guard !spec.path.split(separator: "/").contains("..") else {
                throw ProblemDetails.invalidField("spec.path", "spec.path must not contain '..'")
            }
            return self
        }
    }
}

/// Type `file`: one JSON line per audit record, appended to a file of the audit service's host.
struct FileLogStream: Codable, Sendable, Equatable {
    static let type = "file"
    static let schema = SpecSchema.ObjectSchema(
        "JSON lines appended to a file.",
        [
            .init("type", .string(choices: [type]), required: true, "The log stream's type."),
            .init(
                "path", .string(maxLength: 4096, pattern: (regex: "^/.*$", meaning: "an absolute path")),
                required: true, "The file (created with mode 0600 if absent)."),
        ])

    var path: String
}
