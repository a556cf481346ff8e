import SigilEvents
import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-audit`: projects every event into the hash-chained audit log and streams it to SIEMs.
    static var auditIngestion: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
            executable: "sigil-audit",
            component: "audit",
            summary: "Audit ingestion: a tamper-evident audit log of every event, queries, and SIEM log streams.",
            defaultPort: 7104,
            schema: SchemaName("audit"),
            migrations: [
                Migration(version: 1, name: "audit log and log streams") { schema in
                    [
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).events (
                            tenant text NOT NULL,
                            sequence bigint NOT NULL,
                            event_id text NOT NULL,
                            event_type text NOT NULL,
                            source text NOT NULL,
                            subject text,
                            occurred_at timestamptz NOT NULL,
                            topic text NOT NULL,
                            partition integer NOT NULL,
                            kafka_offset bigint NOT NULL,
                            data jsonb NOT NULL,
                            outcome text,
                            client_workload text,
                            previous_hash bytea NOT NULL,
                            hash bytea NOT NULL,
                            PRIMARY KEY (tenant, sequence),
                            UNIQUE (tenant, event_id))
                        """,
                        "CREATE INDEX events_type_time ON \(unescaped: schema.rawValue).events (tenant, event_type, occurred_at)",
                        ResourceKind.logStream.createTable(in: schema),
                    ]
                },
                .resources(version: 2, replacing: [.logStream]),
            ],
            topics: SigilTopic.allCases
        )
        definition.resources = [ResourceDefinition(LogStreamSpec.self)]
        definition.projections = { context in
            [
                ProjectionSubscription(
                    projection: AuditProjection(
                        schema: SchemaName("audit"),
                        streams: LogStreamWriter(streams: context.resources.index(LogStreamSpec.self))),
                    topics: SigilTopic.allCases
                )
            ]
        }
        definition.routes = { group, context in
            guard let postgres = context.postgres else { return }
            AuditQueryController(schema: SchemaName("audit"), postgres: postgres).add(to: group)
        }
        definition.openAPIPaths = AuditQueryController.openAPIPaths
        definition.openAPISchemas = AuditQueryController.openAPISchemas
        return definition
    }
}
