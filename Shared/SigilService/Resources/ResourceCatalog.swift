import SigilEvents
import Synchronization

/// One resource of any kind, as every service knows it from `sigil.config`: enough to check references both ways
/// and to follow versions, without the spec.
public struct CatalogEntry: Sendable, Hashable {
    public var kind: ResourceKind
    public var metadata: ResourceMetadata
    public var references: [ResourceReference]

    public init(kind: ResourceKind, metadata: ResourceMetadata, references: [ResourceReference]) {
        self.kind = kind
        self.metadata = metadata
        self.references = references
    }
}

/// Every resource of every kind, per tenant.
public final class ResourceCatalog: Sendable {
    struct Key: Hashable {
        let kind: ResourceKind
        let name: String
    }

    private let entries = Mutex<[String: [Key: CatalogEntry]]>([:])

    public init() {}

    public func entry(_ kind: ResourceKind, _ name: String, tenant: String) -> CatalogEntry? {
        entries.withLock { $0[tenant]?[Key(kind: kind, name: name)] }
    }

    /// The resources of the tenant that name this one, by kind and name.
    public func referrers(of kind: ResourceKind, _ name: String, tenant: String) -> [CatalogEntry] {
        let tenantEntries = entries.withLock { $0[tenant] ?? [:] }
        return tenantEntries.values.filter { entry in
            entry.references.contains { $0.kind == kind && $0.name == name }
        }.sorted { ($0.kind.rawValue, $0.metadata.name) < ($1.kind.rawValue, $1.metadata.name) }
    }

    /// Replaces everything (after reading the projection).
    public func replace(with all: [CatalogEntry]) {
        var index: [String: [Key: CatalogEntry]] = [:]
        for entry in all {
            index[entry.metadata.tenant, default: [:]][Key(kind: entry.kind, name: entry.metadata.name)] = entry
        }
        entries.withLock { $0 = index }
    }

    /// Replaces the given entries and drops the named resources (after reading the rows a batch changed).
    public func update(_ changed: [CatalogEntry], removing removed: [ResourceName]) {
        entries.withLock { entries in
            for name in removed { entries[name.tenant]?[Key(kind: name.kind, name: name.name)] = nil }
            for entry in changed {
                entries[entry.metadata.tenant, default: [:]][Key(kind: entry.kind, name: entry.metadata.name)] = entry
            }
        }
    }

    /// Applies a configuration event by the rule every consumer shares (for consumers that keep configuration in
    /// memory only, like the edge); returns whether it took effect.
    @discardableResult
    public func apply(_ payload: any EventPayload, tenant: String) -> Bool {
        entries.withLock { entries in
            switch payload {
            case let defined as ResourceDefined:
                let key = Key(kind: defined.kind, name: defined.name)
                let current = entries[tenant]?[key]?.metadata.resourceVersion
                guard Self.takesEffect(defined, current: current) else { return false }
                entries[tenant, default: [:]][key] = CatalogEntry(
                    kind: defined.kind, metadata: defined.metadata, references: defined.references)
                return true
            case let removed as ResourceRemoved:
                let key = Key(kind: removed.kind, name: removed.name)
                guard Self.takesEffect(removed, current: entries[tenant]?[key]?.metadata.resourceVersion) else {
                    return false
                }
                entries[tenant]?[key] = nil
                return true
            default:
                return false
            }
        }
    }

    /// A definition takes effect only over the version its writer saw (none: a creation), so of two writes that
    /// raced from different replicas every consumer keeps the same one, the first in the log.
    public static func takesEffect(_ defined: ResourceDefined, current: String?) -> Bool {
        current == defined.previousResourceVersion
    }

    public static func takesEffect(_ removed: ResourceRemoved, current: String?) -> Bool {
        current == removed.resourceVersion
    }
}
