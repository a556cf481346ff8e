import Foundation
import Logging
import PostgresNIO
import SigilEvents
import SigilService
import Testing

@testable import SigilProjection

/// A kind for the test: what a service owning server workloads would keep.
private struct TargetSpec: ResourceSpec {
    static let kind = ResourceKind.serverWorkload
    static let summary = "A test target."
    static let schema = SpecSchema.object(
        summary,
        [
            .init("host", .string(), required: true, "Host."),
            .init("port", .integer(minimum: 1, maximum: 65_535), required: true, "Port."),
        ])
    var host: String
    var port: Int
}

@Suite("Resources projection: typed rows in PostgreSQL, the shared rule for raced writes, a restart reloads")
struct ResourceProjectionTests {
    let logger = Logger(label: "test.resources")
    let source = EventSource(service: "test", instance: "1")

    func defined(
        _ kind: ResourceKind, _ name: String, version: String, previous: String?, spec: JSONValue,
        references: [ResourceReference] = []
    ) throws -> ProjectedEvent {
        let payload = ResourceDefined(
            kind: kind,
            metadata: ResourceMetadata(
                name: name, tenant: "acme", labels: ["team": "a"], uid: "uid-\(name)", resourceVersion: version,
                generation: 1, createdAt: Date(timeIntervalSince1970: 1_800_000_000),
                updatedAt: Date(timeIntervalSince1970: 1_800_000_000), createdBy: "ops"),
            spec: spec, previousResourceVersion: previous, references: references, specDigest: "d",
            changedBy: ResourceActor(tokenName: "ops", role: "admin"))
        return ProjectedEvent(
            envelope: try payload.cloudEvent(source: source, tenant: "acme", partitionKey: "acme"), payload: payload,
            topic: "sigil.config", partition: 0, offset: 0)
    }

    /// A started projection of `TargetSpec` over a fresh schema, dropped afterwards.
    func withProjection(
        _ body: @Sendable (PostgresClient, SchemaName, ResourceStore, ResourceProjection) async throws -> Void
    ) async throws {
        try await TestPostgres.withClient { postgres in
            let schema = TestPostgres.uniqueSchema("resources")
            try await MigrationRunner(schema: schema, migrations: [.resources(version: 1, replacing: [])]).apply(
                on: postgres, logger: logger)
            let store = ResourceStore()
            let projection = ResourceProjection(
                schema: schema, definitions: [ResourceDefinition(TargetSpec.self)], store: store, postgres: postgres)
            try await projection.start(logger: logger)
            try await body(postgres, schema, store, projection)
            try await postgres.query("DROP SCHEMA \(unescaped: schema.rawValue) CASCADE", logger: logger)
        }
    }

    @Test("owned kinds keep their typed spec, others only their name and references; a raced write is ignored")
    func projects() async throws {
        try await withProjection { postgres, schema, store, projection in
            let events = [
                try defined(.serverWorkload, "ledger", version: "v1", previous: nil, spec: ["host": "a", "port": 1]),
                try defined(
                    .accessPolicy, "p", version: "p1", previous: nil, spec: ["clientWorkload": "billing"],
                    references: [ResourceReference(kind: .serverWorkload, name: "ledger", field: "spec.serverWorkload")]
                ),
                try defined(.serverWorkload, "ledger", version: "v2", previous: "v1", spec: ["host": "b", "port": 2]),
                // Another replica's write over v1, later in the log: it lost, everyone ignores it.
                try defined(.serverWorkload, "ledger", version: "v2b", previous: "v1", spec: ["host": "c", "port": 3]),
            ]
            for event in events {
                try await postgres.withTransaction(logger: logger) { connection in
                    try await projection.apply(event, connection: connection, logger: logger)
                }
            }
            try await projection.batchCommitted(logger: logger)
            let ledger = try #require(store.index(TargetSpec.self).get(tenant: "acme", name: "ledger"))
            #expect(ledger.spec == TargetSpec(host: "b", port: 2))
            #expect(ledger.metadata.resourceVersion == "v2")
            #expect(ledger.metadata.labels == ["team": "a"])
            #expect(
                store.catalog.referrers(of: .serverWorkload, "ledger", tenant: "acme").map(\.metadata.name) == ["p"])
            #expect(store.index(TargetSpec.self).get(tenant: "other", name: "ledger") == nil)
            // The policy's spec is another service's: not stored here.
            #expect(try await TestPostgres.count(postgres, "\(schema.rawValue).resources", where: "spec IS NULL") == 1)

            // A removal over a stale version is ignored; over the current one it applies.
            let actor = ResourceActor(tokenName: "ops", role: "admin")
            for version in ["v1", "v2"] {
                let removed = ResourceRemoved(
                    kind: .serverWorkload, name: "ledger", resourceVersion: version, changedBy: actor)
                let event = ProjectedEvent(
                    envelope: try removed.cloudEvent(source: source, tenant: "acme", partitionKey: "acme"),
                    payload: removed, topic: "sigil.config", partition: 0, offset: 0)
                try await postgres.withTransaction(logger: logger) { connection in
                    try await projection.apply(event, connection: connection, logger: logger)
                }
                try await projection.batchCommitted(logger: logger)
                #expect((store.index(TargetSpec.self).get(tenant: "acme", name: "ledger") == nil) == (version == "v2"))
                #expect((store.catalog.entry(.serverWorkload, "ledger", tenant: "acme") == nil) == (version == "v2"))
            }
            #expect(store.catalog.entry(.accessPolicy, "p", tenant: "acme") != nil, "an untouched resource stays")

            // A restarted service reads the same view back from its table.
            let restarted = ResourceStore()
            try await ResourceProjection(
                schema: schema, definitions: [ResourceDefinition(TargetSpec.self)], store: restarted, postgres: postgres
            ).start(logger: logger)
            #expect(restarted.catalog.entry(.accessPolicy, "p", tenant: "acme")?.metadata.resourceVersion == "p1")
            #expect(restarted.index(TargetSpec.self).all(tenant: "acme").isEmpty)
        }
    }

    @Test(
        "after each commit only what the batch changed is read back: a rolled-back change never shows, untouched ones stay"
    )
    func refreshesChanged() async throws {
        try await withProjection { postgres, _, store, projection in
            struct RolledBack: Error {}
            func commit(_ event: ProjectedEvent, rollBack: Bool = false) async throws {
                try? await postgres.withTransaction(logger: logger) { connection in
                    try await projection.apply(event, connection: connection, logger: logger)
                    if rollBack { throw RolledBack() }
                }
                if !rollBack { try await projection.batchCommitted(logger: logger) }
            }
            try await commit(
                defined(.serverWorkload, "kept", version: "k1", previous: nil, spec: ["host": "k", "port": 1]))
            try await commit(
                defined(.serverWorkload, "lost", version: "l1", previous: nil, spec: ["host": "l", "port": 2]),
                rollBack: true)
            try await commit(
                defined(.serverWorkload, "next", version: "n1", previous: nil, spec: ["host": "n", "port": 3]))
            let index = store.index(TargetSpec.self)
            #expect(index.all(tenant: "acme").map(\.name) == ["kept", "next"])
            #expect(store.catalog.entry(.serverWorkload, "lost", tenant: "acme") == nil)
            #expect(index.get(tenant: "acme", name: "kept")?.spec == TargetSpec(host: "k", port: 1))
        }
    }
}
