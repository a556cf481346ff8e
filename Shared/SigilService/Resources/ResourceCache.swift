import SigilEvents
import Synchronization

/// The in-memory view of a service's configuration resources, per tenant: what hot paths read. Filled from the
/// service's projection tables at start and after every batch that changed them.
public final class ResourceCache: Sendable {
    private let resources = Mutex<[ResourceKind: [String: [String: JSONValue]]]>([:])

    public init() {}

    public func all(_ kind: ResourceKind, tenant: String) -> [StoredResource] {
        let byName = resources.withLock { $0[kind]?[tenant] ?? [:] }
        return byName.sorted { $0.key < $1.key }.map { StoredResource(kind: kind, name: $0.key, spec: $0.value) }
    }

    public func get(_ kind: ResourceKind, tenant: String, name: String) -> StoredResource? {
        resources.withLock { $0[kind]?[tenant]?[name] }.map { StoredResource(kind: kind, name: name, spec: $0) }
    }

    /// Replaces everything known of one kind (after reading its table).
    public func replace(_ kind: ResourceKind, with rows: [(tenant: String, name: String, spec: JSONValue)]) {
        var byTenant: [String: [String: JSONValue]] = [:]
        for row in rows { byTenant[row.tenant, default: [:]][row.name] = row.spec }
        resources.withLock { $0[kind] = byTenant }
    }

    /// Sets or removes one resource (for services that keep configuration in memory only, like the edge).
    public func set(_ kind: ResourceKind, tenant: String, name: String, spec: JSONValue?) {
        resources.withLock { $0[kind, default: [:]][tenant, default: [:]][name] = spec }
    }
}
