import Foundation
import SigilEvents
import Synchronization

@testable import SigilService

/// `sigil.config` and a service's resources projection in one, in memory: every appended event is applied at once by
/// the rule the projection applies (`ResourceCatalog.takesEffect`), and the store reloaded as after a commit.
final class InMemoryConfigurationLog: ConfigurationLog {
    private let state = Mutex<(events: [CloudEvent], rows: [String: StoredResource])>(([], [:]))
    let store: ResourceStore
    let definitions: [ResourceDefinition]

    init(store: ResourceStore, definitions: [ResourceDefinition]) {
        self.store = store
        self.definitions = definitions
    }

    var events: [CloudEvent] { state.withLock { $0.events } }

    func payloads() throws -> [any EventPayload] { try events.map { try EventCatalog.sigil.decode($0) } }

    func append(contentsOf events: [CloudEvent]) async throws {
        for event in events { try apply(event) }
    }

    /// Applies an event as if read from the topic (also one another replica wrote).
    func apply(_ event: CloudEvent) throws {
        let payload = try EventCatalog.sigil.decode(event)
        let rows = state.withLock { state -> [StoredResource] in
            state.events.append(event)
            switch payload {
            case let defined as ResourceDefined:
                let key = "\(event.tenant)/\(defined.kind.rawValue)/\(defined.name)"
                if ResourceCatalog.takesEffect(defined, current: state.rows[key]?.metadata.resourceVersion) {
                    state.rows[key] = StoredResource(
                        kind: defined.kind, metadata: defined.metadata, references: defined.references,
                        spec: defined.spec)
                }
            case let removed as ResourceRemoved:
                let key = "\(event.tenant)/\(removed.kind.rawValue)/\(removed.name)"
                if ResourceCatalog.takesEffect(removed, current: state.rows[key]?.metadata.resourceVersion) {
                    state.rows[key] = nil
                }
            default: break
            }
            return Array(state.rows.values)
        }
        for definition in definitions { _ = definition.load(store, rows) }
        store.catalog.replace(
            with: rows.map { CatalogEntry(kind: $0.kind, metadata: $0.metadata, references: $0.references) })
    }
}

extension InMemoryConfigurationLog {
    /// A resource another service owns, as its event would arrive (the catalog learns its name and references).
    func defineElsewhere(
        _ kind: ResourceKind, _ name: String, tenant: String = "acme", references: [ResourceReference] = []
    ) throws {
        let now = Date()
        let defined = ResourceDefined(
            kind: kind,
            metadata: ResourceMetadata(
                name: name, tenant: tenant, labels: [:], uid: UUIDv7.generate(), resourceVersion: UUIDv7.generate(),
                generation: 1, createdAt: now, updatedAt: now, createdBy: "elsewhere"),
            spec: [:],
            previousResourceVersion: store.catalog.entry(kind, name, tenant: tenant)?.metadata.resourceVersion,
            references: references, specDigest: "", changedBy: ResourceActor(tokenName: "elsewhere", role: "admin"))
        try apply(
            defined.cloudEvent(
                source: EventSource(service: "elsewhere", instance: "1"), tenant: tenant, partitionKey: tenant))
    }
}
