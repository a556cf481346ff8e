import SigilEvents
import Synchronization

/// The typed resources of one kind, per tenant, in memory: what use sites read (the informer cache of Kubernetes).
/// Filled from the owning service's projection after every committed batch that changed it.
public final class ResourceIndex<Spec: ResourceSpec>: Sendable {
    private struct State {
        var byTenant: [String: [String: Resource<Spec>]] = [:]
        /// Tenant → `ResourceSpec.uniqueness` → the names that have it (one, unless replicas raced): admission's
        /// duplicate check is a lookup, not a scan of the kind.
        var holders: [String: [String: Set<String>]] = [:]

        mutating func put(_ resource: Resource<Spec>) {
            let tenant = resource.metadata.tenant
            remove(tenant: tenant, name: resource.name)
            byTenant[tenant, default: [:]][resource.name] = resource
            if let key = resource.spec.uniqueness {
                holders[tenant, default: [:]][key, default: []].insert(resource.name)
            }
        }

        mutating func remove(tenant: String, name: String) {
            guard let old = byTenant[tenant]?.removeValue(forKey: name), let key = old.spec.uniqueness else { return }
            holders[tenant]?[key]?.remove(name)
            if holders[tenant]?[key]?.isEmpty == true { holders[tenant]?[key] = nil }
        }
    }

    private let state = Mutex(State())
    private let changes = Atomic<UInt64>(0)

    public init() {}

    /// Counts changes: what a use site that compiles the resources into its own index compares to know it is stale.
    public var generation: UInt64 { changes.load(ordering: .acquiring) }

    /// The tenant's resources of this kind, by name.
    public func all(tenant: String) -> [Resource<Spec>] {
        page(tenant: tenant, after: nil, limit: nil).resources
    }

    /// The tenant's resources of this kind by name, those after `after` (all when nil), at most `limit` (all when nil);
    /// and whether more follow.
    public func page(tenant: String, after: String?, limit: Int?) -> (resources: [Resource<Spec>], more: Bool) {
        let resources = state.withLock { $0.byTenant[tenant] ?? [:] }
        let names = after.map { after in resources.keys.filter { $0 > after } } ?? Array(resources.keys)
        let taken = limit.map { min($0, names.count) } ?? names.count
        return (names.sorted().prefix(taken).compactMap { resources[$0] }, taken < names.count)
    }

    /// Every tenant's resources of this kind.
    public var everything: [Resource<Spec>] {
        state.withLock { $0.byTenant.values.flatMap(\.values) }
    }

    /// The resource of the tenant, other than `name`, whose spec has this `uniqueness` (the first by name).
    public func holder(of uniqueness: String, tenant: String, other name: String) -> String? {
        state.withLock { $0.holders[tenant]?[uniqueness] ?? [] }.filter { $0 != name }.min()
    }

    public func get(tenant: String, name: String) -> Resource<Spec>? {
        state.withLock { $0.byTenant[tenant]?[name] }
    }

    /// Adds or replaces one resource (for consumers that keep configuration in memory only).
    public func define(_ resource: Resource<Spec>) {
        state.withLock { $0.put(resource) }
        changes.add(1, ordering: .releasing)
    }

    /// Replaces the given resources and drops the named ones (after reading the rows a batch changed).
    public func update(_ resources: [Resource<Spec>], removing removed: [ResourceName]) {
        state.withLock { state in
            for name in removed { state.remove(tenant: name.tenant, name: name.name) }
            for resource in resources { state.put(resource) }
        }
        changes.add(1, ordering: .releasing)
    }

    /// Replaces everything (after reading the projection).
    public func replace(with resources: [Resource<Spec>]) {
        var index = State()
        for resource in resources { index.put(resource) }
        state.withLock { $0 = index }
        changes.add(1, ordering: .releasing)
    }
}

/// A service's view of configuration: the catalog of every resource of every kind (names, versions, references),
/// and a typed index per kind the service owns.
public final class ResourceStore: Sendable {
    public let catalog = ResourceCatalog()
    private let indexes = Mutex<[ResourceKind: any Sendable]>([:])
    private let loadedFlag = Mutex(false)

    public init() {}

    /// Whether the committed resources have been read into the indexes once (at start, from the service's table).
    /// Before that the indexes are empty: empty is not "every resource removed".
    public var isLoaded: Bool { loadedFlag.withLock { $0 } }

    public func markLoaded() { loadedFlag.withLock { $0 = true } }

    /// Returns once the committed resources are in the indexes.
    public func loaded() async throws {
        while !isLoaded { try await Task.sleep(for: .milliseconds(50)) }
    }

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
