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
                }
            ],
            topics: SigilTopic.allCases
        )
        definition.resources = { _ in
            [
                ResourceDefinition(kind: .logStream) { spec, _, _ in
                    try LogStreamWriter.validate(spec)
                }
            ]
        }
        definition.projections = { context in
            [
                ProjectionSubscription(
                    projection: AuditProjection(
                        schema: SchemaName("audit"), streams: LogStreamWriter(resources: context.resources)),
                    topics: SigilTopic.allCases
                )
            ]
        }
        definition.routes = { group, context in
            guard let postgres = context.postgres else { return }
            AuditQueryController(schema: SchemaName("audit"), postgres: postgres).add(to: group)
        }
        definition.openAPIPaths = ResourceOpenAPI.paths(for: [("log-streams", "LogStream")]) + "\n" + AuditOpenAPI.paths
        return definition
    }
}

enum AuditOpenAPI {
    static let paths = """
          /v1/audit/events:
            get:
              summary: The tenant's audit log, oldest first
              parameters:
                - {name: since, in: query, schema: {type: string, format: date-time}}
                - {name: type, in: query, schema: {type: string}, description: "CloudEvents type, e.g. dev.sigil.access.granted.v1"}
                - {name: clientWorkload, in: query, schema: {type: string}}
                - {name: outcome, in: query, schema: {type: string, enum: [requested, attested, attestation-failed, granted, denied, issued, refused, proxied, proxied-summary, edge-started, edge-stopped, dead-lettered]}}
                - {name: after, in: query, schema: {type: integer, minimum: 0}, description: Sequence to continue after (pagination).}
                - {name: limit, in: query, schema: {type: integer, minimum: 1, maximum: 500, default: 100}}
              responses:
                "200": {description: "A page of records; `next` holds the query for the next page.", content: {application/json: {schema: {type: object}}}}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "422": {description: Invalid filter., content: {application/problem+json: {schema: {$ref: "#/components/schemas/Problem"}}}}
          /v1/audit/verify:
            get:
              summary: Recompute the tenant's hash chain
              responses:
                "200": {description: "verified, the number of records, and the first broken sequence if any.", content: {application/json: {schema: {type: object}}}}
        """
}
