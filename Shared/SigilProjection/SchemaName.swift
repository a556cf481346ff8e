/// A Postgres schema a service owns (`attest`, `policy`, ...). Validated once, so it is safe to splice into SQL
/// as an identifier (identifiers cannot be bound parameters); it never comes from a request.
public struct SchemaName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    public init(_ name: String) {
        precondition(
            !name.isEmpty && name.count <= 48
                && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
                && !("0"..."9").contains(name.unicodeScalars.first!),
            "schema names are lower-case identifiers"
        )
        rawValue = name
    }

    public var description: String { rawValue }
}
