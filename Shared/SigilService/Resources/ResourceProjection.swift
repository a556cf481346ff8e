import Foundation
import Logging
import Metrics
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects `resource defined / removed` events of every kind into the service's `resources` table (the spec only
/// for kinds it owns) and, after each committed batch that changed it, refreshes the catalog and the typed indexes.
/// Each event takes effect only by the rule every consumer shares (`ResourceCatalog.takesEffect`).
public struct ResourceProjection: Projection {
    public let name = "resources"
    let schema: SchemaName
    let definitions: [ResourceDefinition]
    let store: ResourceStore
    let postgres: PostgresClient
    private let changed = ChangeFlag()

    public init(schema: SchemaName, definitions: [ResourceDefinition], store: ResourceStore, postgres: PostgresClient) {
        self.schema = schema
        self.definitions = definitions
        self.store = store
        self.postgres = postgres
    }

    var table: String { "\(schema.rawValue).resources" }

    public func start(logger: Logger) async throws {
        try await reload(logger: logger)
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
            changed.set()
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
            changed.set()
        default:
            return
        }
    }

    public func batchCommitted(logger: Logger) async throws {
        if changed.take() { try await reload(logger: logger) }
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
        let rows = try await postgres.query(
            "SELECT kind, metadata::text, refs::text, spec::text FROM \(unescaped: table)", logger: logger)
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
        for definition in definitions {
            for name in definition.load(store, resources) {
                logger.error(
                    "stored resource no longer decodes; left out",
                    metadata: ["resource": "\(definition.kind.rawValue)/\(name)"])
            }
        }
        store.catalog.replace(
            with: resources.map { CatalogEntry(kind: $0.kind, metadata: $0.metadata, references: $0.references) })
    }

    static func json(_ value: some Encodable) throws -> String {
        String(decoding: try EventJSON.encoder.encode(value), as: UTF8.self)
    }
}

/// Set while applying, taken after commit.
final class ChangeFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    func take() -> Bool {
        value.withLock { flag in
            defer { flag = false }
            return flag
        }
    }
}
