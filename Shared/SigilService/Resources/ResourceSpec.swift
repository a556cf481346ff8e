import SigilEvents

/// The typed spec of one resource kind. Adding a kind is: a type conforming to this, its schema, and (where use
/// sites need more than by-name lookup) an extension on its `ResourceIndex`.
public protocol ResourceSpec: Codable, Sendable, Equatable {
    static var kind: ResourceKind { get }
    /// What admission checks before decoding; what the OpenAPI document shows.
    static var schema: SpecSchema { get }
    /// One line for the OpenAPI document and the CLI.
    static var summary: String { get }

    /// Checks beyond the schema, and the form that is stored (e.g. a secret encrypted): throws
    /// `ProblemDetails.invalidField` naming the field at fault. The default returns the spec as it is.
    func admitted(_ admission: Admission<Self>) async throws -> Self

    /// The resources this spec names; each must exist (admission refuses with 422 naming the field), and none can
    /// be deleted while this one names it (409).
    var references: [ResourceReference] { get }

    /// What no two resources of this kind in a tenant may share (e.g. a server workload's scheme, host and port),
    /// as a person reads it; nil if anything goes.
    var uniqueness: String? { get }
}

extension ResourceSpec {
    public func admitted(_ admission: Admission<Self>) async throws -> Self { self }
    public var references: [ResourceReference] { [] }
    public var uniqueness: String? { nil }
}

/// What a spec's own admission sees: where it is going and what it replaces.
public struct Admission<Spec: ResourceSpec>: Sendable {
    public let tenant: String
    public let name: String
    /// The resource as it is now, if it exists.
    public let current: Resource<Spec>?
    public let context: ServiceContext
}

/// The API version of every resource kind.
public enum SigilAPI {
    public static let version = "sigil.dev/v1"
}

/// A resource as stored and served: the generic envelope around a typed spec.
public struct Resource<Spec: ResourceSpec>: Codable, Sendable, Equatable {
    public var apiVersion: String
    public var kind: ResourceKind
    public var metadata: ResourceMetadata
    public var spec: Spec

    public init(metadata: ResourceMetadata, spec: Spec) {
        self.apiVersion = SigilAPI.version
        self.kind = Spec.kind
        self.metadata = metadata
        self.spec = spec
    }

    public var name: String { metadata.name }
}
