import SigilEvents
import Synchronization

/// The typed resources of one kind, per tenant, in memory: what use sites read (the informer cache of Kubernetes).
/// Filled from the owning service's projection after every committed batch that changed it.
public final class ResourceIndex<Spec: ResourceSpec>: Sendable {
    private let byTenant = Mutex<[String: [String: Resource<Spec>]]>([:])
    private let changes = Atomic<UInt64>(0)

    public init() {}

    /// Counts changes: what a use site that compiles the resources into its own index compares to know it is stale.
    public var generation: UInt64 { changes.load(ordering: .acquiring) }

    /// The tenant's resources of this kind, by name.
    public func all(tenant: String) -> [Resource<Spec>] {
        let resources = byTenant.withLock { $0[tenant] ?? [:] }
        return resources.values.sorted { $0.name < $1.name }
    }

    /// Every tenant's resources of this kind.
    public var everything: [Resource<Spec>] {
        byTenant.withLock { $0.values.flatMap(\.values) }
    }

    /// Of the tenant's resources that match, the one first by name (without sorting the whole kind).
    public func first(tenant: String, where matches: (Resource<Spec>) -> Bool) -> Resource<Spec>? {
        byTenant.withLock { $0[tenant]?.values.filter(matches) ?? [] }.min { $0.name < $1.name }
    }

    public func get(tenant: String, name: String) -> Resource<Spec>? {
        byTenant.withLock { $0[tenant]?[name] }
    }

    /// Adds or replaces one resource (for consumers that keep configuration in memory only).
    public func define(_ resource: Resource<Spec>) {
        byTenant.withLock { $0[resource.metadata.tenant, default: [:]][resource.name] = resource }
        changes.add(1, ordering: .releasing)
    }

    /// Replaces the given resources and drops the named ones (after reading the rows a batch changed).
    public func update(_ resources: [Resource<Spec>], removing removed: [ResourceName]) {
        byTenant.withLock { index in
            for name in removed { index[name.tenant]?[name.name] = nil }
            for resource in resources { index[resource.metadata.tenant, default: [:]][resource.name] = resource }
        }
        changes.add(1, ordering: .releasing)
    }

    /// Replaces everything (after reading the projection).
    public func replace(with resources: [Resource<Spec>]) {
        var index: [String: [String: Resource<Spec>]] = [:]
        for resource in resources { index[resource.metadata.tenant, default: [:]][resource.name] = resource }
        byTenant.withLock { $0 = index }
        changes.add(1, ordering: .releasing)
    }
}

/// A service's view of configuration: the catalog of every resource of every kind (names, versions, references),
/// and a typed index per kind the service owns.
public final class ResourceStore: Sendable {
    public let catalog = ResourceCatalog()
    private let indexes = Mutex<[ResourceKind: any Sendable]>([:])

    public init() {}

    /// The index of a kind; the same instance for every caller.
    public func index<Spec: ResourceSpec>(_ type: Spec.Type) -> ResourceIndex<Spec> {
        indexes.withLock { indexes in
            if let index = indexes[Spec.kind] as? ResourceIndex<Spec> { return index }
            let index = ResourceIndex<Spec>()
            indexes[Spec.kind] = index
            return index
        }
    }
}
