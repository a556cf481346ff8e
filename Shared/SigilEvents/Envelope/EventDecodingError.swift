/// Why a Kafka record could not be read as a Sigil event. Consumers dead-letter the record with this error and go
/// on; they never crash on it.
public enum EventDecodingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A required CloudEvents attribute is absent.
    case missingAttribute(String)
    /// An attribute is present but unusable (wrong spec version, bad time, bad type syntax, ...).
    case invalidAttribute(String, reason: String)
    /// A well-formed `dev.sigil.` type this build does not know at all.
    case unknownType(String)
    /// A known event in a version this build cannot read.
    case unsupportedVersion(String, supported: [Int])
    /// The data does not decode as the type's payload.
    case invalidData(String, reason: String)

    /// A stable code for metrics, problem documents and dead letters.
    public var code: String {
        switch self {
        case .missingAttribute: return "missing-attribute"
        case .invalidAttribute: return "invalid-attribute"
        case .unknownType: return "unknown-type"
        case .unsupportedVersion: return "unsupported-version"
        case .invalidData: return "invalid-data"
        }
    }

    public var description: String {
        switch self {
        case .missingAttribute(let name): return "missing CloudEvents attribute \(name)"
        case .invalidAttribute(let name, let reason): return "invalid CloudEvents attribute \(name): \(reason)"
        case .unknownType(let type): return "unknown event type \(type)"
        case .unsupportedVersion(let type, let supported):
            return "unsupported version of \(type); readable: \(supported.map { "v\($0)" }.joined(separator: ", "))"
        case .invalidData(let type, let reason): return "data of \(type) does not decode: \(reason)"
        }
    }
}
