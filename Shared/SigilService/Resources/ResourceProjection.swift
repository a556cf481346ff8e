import Foundation
import Logging
import Metrics
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects `resource defined / removed` events of every kind into the service's `resources` table (the spec only
/// for kinds it owns) and, after each committed batch that changed it, refreshes the catalog and the typed indexes
/// from the committed rows of the resources it changed (all of them at start, or when a batch changed many): a write
/// costs the same in a tenant of ten resources as in one of ten thousand. Each event takes effect only by the rule
/// every consumer shares (`ResourceCatalog.takesEffect`).
public struct ResourceProjection: Projection {
    public let name = "resources"
    let schema: SchemaName
    let definitions: [ResourceDefinition]
    let store: ResourceStore
    let postgres: PostgresClient
    private let changed = ChangedResources()

    public init(schema: SchemaName, definitions: [ResourceDefinition], store: ResourceStore, postgres: PostgresClient) {
        self.schema = schema
        self.definitions = definitions
        self.store = store
        self.postgres = postgres
    }

    var table: String { "\(schema.rawValue).resources" }

    public func start(logger: Logger) async throws {
        try await reload(logger: logger)
        store.markLoaded()
    }

    public func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        let tenant = event.envelope.tenant
        switch event.payload {
        case let defined as ResourceDefined:
            let current = try await currentVersion(defined.kind, defined.name, tenant: tenant, connection, logger)
            guard ResourceCatalog.takesEffect(defined, current: current) else {
                return ignore(defined.kind, defined.name, logger: logger)
            }
            let owned = definitions.contains { $0.kind == defined.kind }
            let metadata = try Self.json(defined.metadata)
            let references = try Self.json(defined.references)
            let spec = owned ? try Self.json(defined.spec) : nil
            try await connection.query(
                """
                INSERT INTO \(unescaped: table) (tenant, kind, name, metadata, refs, spec)
                VALUES (\(tenant), \(defined.kind.rawValue), \(defined.name), \(metadata)::jsonb, \(references)::jsonb,
                        \(spec)::jsonb)
                ON CONFLICT (tenant, kind, name)
                DO UPDATE SET metadata = EXCLUDED.metadata, refs = EXCLUDED.refs, spec = EXCLUDED.spec
                """,
                logger: logger
            )
            changed.insert(ResourceName(tenant: tenant, kind: defined.kind, name: defined.name))
        case let removed as ResourceRemoved:
            let current = try await currentVersion(removed.kind, removed.name, tenant: tenant, connection, logger)
            guard ResourceCatalog.takesEffect(removed, current: current) else {
                return ignore(removed.kind, removed.name, logger: logger)
            }
            try await connection.query(
                """
                DELETE FROM \(unescaped: table)
                WHERE tenant = \(tenant) AND kind = \(removed.kind.rawValue) AND name = \(removed.name)
                """,
                logger: logger
            )
            changed.insert(ResourceName(tenant: tenant, kind: removed.kind, name: removed.name))
        default:
            return
        }
    }

    /// Above this many changed resources a batch reloads everything (one scan beats a long key list).
    static let refreshLimit = 1_000

    public func batchCommitted(logger: Logger) async throws {
        // Names changed by a batch that rolled back stay here and are read again after the next commit: what is
        // read is always the committed state.
        let names = changed.take()
        if names.isEmpty { return }
        do {
            if names.count > Self.refreshLimit { return try await reload(logger: logger) }
            try await refresh(names, logger: logger)
        } catch {
            // Not read (the database went away): read after the next commit instead of never.
            changed.insert(contentsOf: names)
            throw error
        }
    }

    private func currentVersion(
        _ kind: ResourceKind, _ name: String, tenant: String, _ connection: PostgresConnection, _ logger: Logger
    ) async throws -> String? {
        let rows = try await connection.query(
            """
            SELECT metadata->>'resourceVersion' FROM \(unescaped: table)
            WHERE tenant = \(tenant) AND kind = \(kind.rawValue) AND name = \(name)
            """,
            logger: logger
        )
        for try await version in rows.decode(String?.self) { return version }
        return nil
    }

    private func ignore(_ kind: ResourceKind, _ name: String, logger: Logger) {
        Counter(label: "sigil.config.writes.superseded").increment()
        logger.warning(
            "configuration write ignored: it raced with another write to the same resource",
            metadata: ["resource": "\(kind.rawValue)/\(name)"])
    }

    func reload(logger: Logger) async throws {
        let resources = try await Self.resources(
            postgres.query(
                "SELECT kind, metadata::text, refs::text, spec::text FROM \(unescaped: table)", logger: logger))
        for definition in definitions {
            Self.logUnreadable(definition.load(store, resources), definition, logger)
        }
        store.catalog.replace(with: resources.map(Self.catalogEntry))
    }

    /// Reads the named resources' committed rows; a name without a row was removed.
    func refresh(_ names: Set<ResourceName>, logger: Logger) async throws {
        let names = Array(names)
        let resources = try await Self.resources(
            postgres.query(
                """
                SELECT kind, metadata::text, refs::text, spec::text FROM \(unescaped: table)
                WHERE (tenant, kind, name) IN (
                    SELECT * FROM unnest(\(names.map(\.tenant)), \(names.map(\.kind.rawValue)), \(names.map(\.name))))
                """,
                logger: logger))
        let found = Set(
            resources.map { ResourceName(tenant: $0.metadata.tenant, kind: $0.kind, name: $0.metadata.name) })
        let removed = names.filter { !found.contains($0) }
        for definition in definitions {
            Self.logUnreadable(definition.update(store, resources, removed), definition, logger)
        }
        store.catalog.update(resources.map(Self.catalogEntry), removing: removed)
    }

    private static func resources(_ rows: PostgresRowSequence) async throws -> [StoredResource] {
        var resources: [StoredResource] = []
        for try await (kind, metadata, references, spec) in rows.decode((String, String, String, String?).self) {
            guard let kind = ResourceKind(rawValue: kind) else { continue }
            resources.append(
                StoredResource(
                    kind: kind,
                    metadata: try EventJSON.decoder.decode(ResourceMetadata.self, from: Data(metadata.utf8)),
                    references: try EventJSON.decoder.decode([ResourceReference].self, from: Data(references.utf8)),
                    spec: try spec.map { try EventJSON.decoder.decode(JSONValue.self, from: Data($0.utf8)) } ?? .null))
        }
        return resources
    }

    private static func catalogEntry(_ resource: StoredResource) -> CatalogEntry {
        CatalogEntry(kind: resource.kind, metadata: resource.metadata, references: resource.references)
    }

    private static func logUnreadable(_ names: [String], _ definition: ResourceDefinition, _ logger: Logger) {
        for name in names {
            logger.error(
                "stored resource no longer decodes; left out",
                metadata: ["resource": "\(definition.kind.rawValue)/\(name)"])
        }
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try EventJSON.encoder.encode(value), as: UTF8.self)
    }
}

/// The resources a batch changed: added while applying, taken after commit.
final class ChangedResources: Sendable {
    private let names = Mutex(Set<ResourceName>())
    func insert(_ name: ResourceName) { _ = names.withLock { $0.insert(name) } }
    func insert(contentsOf more: Set<ResourceName>) { names.withLock { $0.formUnion(more) } }
    func take() -> Set<ResourceName> {
        names.withLock { names in
            defer { names = [] }
            return names
        }
    }
}
