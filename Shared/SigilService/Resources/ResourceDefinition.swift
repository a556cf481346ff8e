import Foundation
import SigilEvents

/// One kind a service owns, with its Swift type erased so the admin API, the projection and the OpenAPI document
/// treat every kind alike. Built with `ResourceDefinition(Spec.self)`.
public struct ResourceDefinition: Sendable {
    public let kind: ResourceKind
    public let schema: SpecSchema
    public let summary: String
    /// Path under `/v1`, e.g. `trust-providers`.
    public var path: String { kind.pathComponent }

    let admit: @Sendable (_ spec: JSONValue, _ target: AdmissionTarget) async throws -> AdmittedSpec
    let read: @Sendable (_ store: ResourceStore, _ tenant: String, _ name: String) throws -> JSONValue?
    /// A page of the tenant's resources by name; and the last name listed when more follow.
    let list:
        @Sendable (_ store: ResourceStore, _ tenant: String, _ page: ResourceListPage) throws -> (
            items: [JSONValue], next: String?
        )
    /// Fills the kind's index from stored rows; returns the names of rows that no longer decode.
    let load: @Sendable (_ store: ResourceStore, _ rows: [StoredResource]) -> [String]
    /// Updates the kind's index with changed rows (a row that no longer decodes is dropped) and drops removed names;
    /// returns the names of rows that no longer decode.
    let update: @Sendable (_ store: ResourceStore, _ rows: [StoredResource], _ removed: [ResourceName]) -> [String]

    public init<Spec: ResourceSpec>(_ type: Spec.Type) {
        kind = Spec.kind
        schema = Spec.schema
        summary = Spec.summary
        admit = { json, target in
            let spec: Spec
            do {
                spec = try json.decode(Spec.self)
            } catch {
                // The schema admitted it, so the type and the schema disagree: say which field.
                throw ProblemDetails.invalidField("spec", "spec could not be read: \(Self.describe(error))")
            }
            let index = target.store.index(Spec.self)
            let current = index.get(tenant: target.tenant, name: target.name)
            let admitted = try await spec.admitted(
                Admission(tenant: target.tenant, name: target.name, current: current, context: target.context))
            let clash = admitted.uniqueness.flatMap {
                index.holder(of: $0, tenant: target.tenant, other: target.name)
            }
            return AdmittedSpec(
                spec: try JSONValue(encoding: admitted), references: admitted.references,
                uniqueness: admitted.uniqueness, clashesWith: clash, unchanged: current?.spec == admitted)
        }
        read = { store, tenant, name in
            try store.index(Spec.self).get(tenant: tenant, name: name).map(JSONValue.init(encoding:))
        }
        list = { store, tenant, page in
            let (resources, more) = store.index(Spec.self).page(tenant: tenant, after: page.after, limit: page.limit)
            return (try resources.map(JSONValue.init(encoding:)), more ? resources.last?.name : nil)
        }
        load = { store, rows in
            let (resources, unreadable) = Self.decode(Spec.self, rows)
            store.index(Spec.self).replace(with: resources)
            return unreadable.map(\.description)
        }
        update = { store, rows, removed in
            let (resources, unreadable) = Self.decode(Spec.self, rows)
            let gone = removed.filter { $0.kind == Spec.kind } + unreadable
            // A batch that did not touch the kind leaves its index (and what use sites compiled from it) as it is.
            if !resources.isEmpty || !gone.isEmpty { store.index(Spec.self).update(resources, removing: gone) }
            return unreadable.map(\.description)
        }
    }

    /// The rows of the kind, typed; and the names of those that no longer decode.
    static func decode<Spec: ResourceSpec>(
        _ type: Spec.Type, _ rows: [StoredResource]
    )
        -> (resources: [Resource<Spec>], unreadable: [ResourceName])
    {
        var resources: [Resource<Spec>] = []
        var unreadable: [ResourceName] = []
        for row in rows where row.kind == Spec.kind {
            if let spec = try? row.spec.decode(Spec.self) {
                resources.append(Resource(metadata: row.metadata, spec: spec))
            } else {
                unreadable.append(ResourceName(tenant: row.metadata.tenant, kind: row.kind, name: row.metadata.name))
            }
        }
        return (resources, unreadable)
    }

    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return "invalid value" }
        switch error {
        case .keyNotFound(let key, let context):
            return (context.codingPath + [key]).map(\.stringValue).joined(separator: ".") + " is missing"
        case .valueNotFound(_, let context), .typeMismatch(_, let context), .dataCorrupted(let context):
            return context.codingPath.map(\.stringValue).joined(separator: ".") + " has an invalid value"
        @unknown default:
            return "invalid value"
        }
    }
}

/// Where an admission is going.
struct AdmissionTarget: Sendable {
    let tenant: String
    let name: String
    let store: ResourceStore
    let context: ServiceContext
}

/// A spec after its kind's admission: what is stored, what it names, and how it relates to what exists.
struct AdmittedSpec: Sendable {
    let spec: JSONValue
    let references: [ResourceReference]
    let uniqueness: String?
    /// Another resource of the kind with the same `uniqueness`.
    let clashesWith: String?
    /// The stored spec would not change.
    let unchanged: Bool
}

/// Which resource: tenant, kind and name.
public struct ResourceName: Hashable, Sendable, CustomStringConvertible {
    public let tenant: String
    public let kind: ResourceKind
    public let name: String

    public init(tenant: String, kind: ResourceKind, name: String) {
        self.tenant = tenant
        self.kind = kind
        self.name = name
    }

    public var description: String { "\(tenant)/\(name)" }
}

/// A row of the projection: one resource of any kind (the spec only for kinds the service owns).
public struct StoredResource: Sendable {
    public let kind: ResourceKind
    public let metadata: ResourceMetadata
    public let references: [ResourceReference]
    public let spec: JSONValue

    public init(kind: ResourceKind, metadata: ResourceMetadata, references: [ResourceReference], spec: JSONValue) {
        self.kind = kind
        self.metadata = metadata
        self.references = references
        self.spec = spec
    }
}
