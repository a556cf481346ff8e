import SigilEvents

/// How a service accepts one kind of configuration resource: its admin API path, its table in the service's
/// schema, and how a submitted spec is validated (and its secrets encrypted) before it becomes an event.
public struct ResourceDefinition: Sendable {
    public let kind: ResourceKind
    /// Path under `/v1`, e.g. `trust-providers`.
    public let path: String
    /// Table in the owning schema, e.g. `trust_providers`.
    public let table: String
    /// Returns what is stored and published: a normalized spec with secret fields already encrypted. Throws
    /// `ProblemDetails.invalidField` naming the field at fault.
    public let validate: @Sendable (_ spec: JSONValue, _ tenant: String, _ name: String) async throws -> JSONValue

    public init(
        kind: ResourceKind,
        validate: @escaping @Sendable (_ spec: JSONValue, _ tenant: String, _ name: String) async throws -> JSONValue
    ) {
        self.kind = kind
        self.path = kind.pathComponent
        self.table = kind.tableName
        self.validate = validate
    }

    /// Resource names are DNS labels: lower-case letters, digits and dashes, 1 to 63 characters.
    public static func isValidName(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard (1...63).contains(scalars.count), scalars.first != "-", scalars.last != "-" else { return false }
        return scalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

/// One stored resource as the admin API shows it.
public struct StoredResource: Sendable, Codable, Equatable {
    public let kind: ResourceKind
    public let name: String
    public let spec: JSONValue

    public init(kind: ResourceKind, name: String, spec: JSONValue) {
        self.kind = kind
        self.name = name
        self.spec = spec
    }
}
