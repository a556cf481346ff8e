import Foundation

/// The metadata every resource carries, as in Kubernetes' `ObjectMeta`: what the user names (`name`, `labels`) and
/// what the owning service sets at admission (everything else).
public struct ResourceMetadata: Codable, Sendable, Hashable {
    public var name: String
    public var tenant: String
    public var labels: [String: String]
    /// Stays the same for the resource's life; a resource deleted and created again gets a new one.
    public var uid: String
    /// Opaque; changes with every write. Send it back (`If-Match` or `metadata.resourceVersion`) to update only
    /// what you read.
    public var resourceVersion: String
    /// Counts changes of the spec (a change of labels only keeps it).
    public var generation: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// The admin token that created it (its name, never the token).
    public var createdBy: String

    public init(
        name: String, tenant: String, labels: [String: String], uid: String, resourceVersion: String,
        generation: Int, createdAt: Date, updatedAt: Date, createdBy: String
    ) {
        self.name = name
        self.tenant = tenant
        self.labels = labels
        self.uid = uid
        self.resourceVersion = resourceVersion
        self.generation = generation
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.createdBy = createdBy
    }
}

/// One resource naming another, and in which field (for the refusal that names it).
public struct ResourceReference: Codable, Sendable, Hashable {
    public var kind: ResourceKind
    public var name: String
    /// The field path in the referring spec, e.g. `spec.clientWorkload`.
    public var field: String

    public init(kind: ResourceKind, name: String, field: String) {
        self.kind = kind
        self.name = name
        self.field = field
    }
}

/// Who changed a resource: the admin token's name and role (never the token).
public struct ResourceActor: Codable, Sendable, Hashable {
    public var tokenName: String
    public var role: String

    public init(tokenName: String, role: String) {
        self.tokenName = tokenName
        self.role = role
    }
}
