import SigilEvents
import SigilService

/// A log stream: where the tenant's audit records are delivered. One type today; each type is a case with its own
/// spec and schema.
enum LogStreamSpec: ResourceSpec {
    case file(FileLogStream)

    static let kind = ResourceKind.logStream
    static let summary = "Where the tenant's audit records are delivered as they are written."
    static let schema = SpecSchema.variants(discriminator: "type", [(FileLogStream.type, FileLogStream.schema)])

    enum CodingKeys: String, CodingKey { case type }

    init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .type)
        switch type {
        case FileLogStream.type: self = .file(try .init(from: decoder))
        default:
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "unknown log stream type \(type)"))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .file(let spec):
            try container.encode(FileLogStream.type, forKey: .type)
            try spec.encode(to: encoder)
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
