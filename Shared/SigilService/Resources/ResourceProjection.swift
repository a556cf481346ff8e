import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilProjection
import Synchronization

/// Projects `resource defined / removed` events of the kinds a service owns into their tables, and keeps the
/// `ResourceCache` in step with the committed rows.
public struct ResourceProjection: Projection {
    public let name = "resources"
    let schema: SchemaName
    let definitions: [ResourceDefinition]
    let cache: ResourceCache
    let postgres: PostgresClient
    private let changed = ChangeFlag()

    public init(schema: SchemaName, definitions: [ResourceDefinition], cache: ResourceCache, postgres: PostgresClient) {
        self.schema = schema
        self.definitions = definitions
        self.cache = cache
        self.postgres = postgres
    }

    public func start(logger: Logger) async throws {
        try await reload(logger: logger)
    }

    public func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws {
        switch event.payload {
        case let defined as ResourceDefined:
            guard let definition = definitions.first(where: { $0.kind == defined.kind }) else { return }
            let spec = String(decoding: try EventJSON.encoder.encode(defined.spec), as: UTF8.self)
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).\(unescaped: definition.table) (tenant, name, spec, defined_at)
                VALUES (\(event.envelope.tenant), \(defined.name), \(spec)::jsonb, \(event.envelope.time))
                ON CONFLICT (tenant, name) DO UPDATE SET spec = EXCLUDED.spec, defined_at = EXCLUDED.defined_at
                """,
                logger: logger
            )
            changed.set()
        case let removed as ResourceRemoved:
            guard let definition = definitions.first(where: { $0.kind == removed.kind }) else { return }
            try await connection.query(
                """
                DELETE FROM \(unescaped: schema.rawValue).\(unescaped: definition.table)
                WHERE tenant = \(event.envelope.tenant) AND name = \(removed.name)
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

    func reload(logger: Logger) async throws {
        for definition in definitions {
            let rows = try await postgres.query(
                "SELECT tenant, name, spec::text FROM \(unescaped: schema.rawValue).\(unescaped: definition.table)",
                logger: logger
            )
            var resources: [(tenant: String, name: String, spec: JSONValue)] = []
            for try await (tenant, name, spec) in rows.decode((String, String, String).self) {
                resources.append((tenant, name, try EventJSON.decoder.decode(JSONValue.self, from: Data(spec.utf8))))
            }
            cache.replace(definition.kind, with: resources)
        }
    }
}

/// Set while applying, taken after commit.
final class ChangeFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    func take() -> Bool {
        value.withLock { flag in
            defer { flag = false }; return flag
        }
    }
}
