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
                Migration(version: 3, name: "audit chains per tenant and partition, batched") { schema in
                    let events = "\(schema.rawValue).events"
                    return [
                        // Rows chained per tenant alone stay, read-only, for the history the bus no longer holds; the
                        // log is rebuilt from what the bus retains, in the new chains.
                        "ALTER TABLE \(unescaped: events) RENAME TO events_v1",
                        """
                        CREATE TABLE \(unescaped: events) (
                            tenant text NOT NULL,
                            topic text NOT NULL,
                            partition integer NOT NULL,
                            sequence bigint NOT NULL,
                            kafka_offset bigint NOT NULL,
                            event_id text NOT NULL,
                            event_type text NOT NULL,
                            source text NOT NULL,
                            subject text,
                            partition_key text NOT NULL,
                            traceparent text,
                            content_type text NOT NULL,
                            time_attribute text NOT NULL,
                            occurred_at timestamptz NOT NULL,
                            data text NOT NULL,
                            signature text,
                            outcome text,
                            client_workload text,
                            server_workload text,
                            previous_hash bytea NOT NULL,
                            hash bytea NOT NULL,
                            recorded_at timestamptz NOT NULL DEFAULT now(),
                            PRIMARY KEY (tenant, topic, partition, sequence))
                        """,
                        """
                        CREATE INDEX audit_events_time ON \(unescaped: events)
                            (tenant, occurred_at, topic, partition, sequence)
                        """,
                        "CREATE INDEX audit_events_id ON \(unescaped: events) (tenant, event_id)",
                        // Every chain's last record, written with the batch: where log streams and checkpoints
                        // start from, without scanning the log.
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).chain_heads (
                            tenant text NOT NULL,
                            topic text NOT NULL,
                            partition integer NOT NULL,
                            sequence bigint NOT NULL,
                            hash bytea NOT NULL,
                            PRIMARY KEY (tenant, topic, partition))
                        """,
                        // Each log stream's delivery: who delivers it (a lease, so one replica at a time), how it
                        // went, and how far it got in every chain. Keyed by the stream's uid: a stream deleted and
                        // created again starts afresh.
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).log_stream_state (
                            tenant text NOT NULL,
                            stream_uid text NOT NULL,
                            name text NOT NULL,
                            owner text NOT NULL,
                            lease_until timestamptz NOT NULL,
                            delivered bigint NOT NULL DEFAULT 0,
                            last_delivery_at timestamptz,
                            last_error text,
                            last_error_at timestamptz,
                            failures integer NOT NULL DEFAULT 0,
                            PRIMARY KEY (tenant, stream_uid))
                        """,
                        """
                        CREATE TABLE \(unescaped: schema.rawValue).log_stream_positions (
                            tenant text NOT NULL,
                            stream_uid text NOT NULL,
                            topic text NOT NULL,
                            partition integer NOT NULL,
                            delivered_sequence bigint NOT NULL,
                            PRIMARY KEY (tenant, stream_uid, topic, partition))
                        """,
                        "DELETE FROM \(unescaped: schema.rawValue).projection_offsets WHERE projection = 'audit-log'",
                    ]
                },
                Migration(version: 4, name: "an event recorded once: unique by tenant and id") { schema in
                    // The projection inserts without looking its batch's ids up first, and looks them up only when
                    // this index refuses one (a record handled again after a crash): one query fewer per batch.
                    [
                        "DROP INDEX \(unescaped: schema.rawValue).audit_events_id",
                        "CREATE UNIQUE INDEX audit_events_id ON \(unescaped: schema.rawValue).events (tenant, event_id)",
                    ]
                },
            ],
            topics: SigilTopic.allCases
        )
        definition.resources = [ResourceDefinition(LogStreamSpec.self)]
        definition.projections = { context in
            guard let lanes = try? AuditParts.lanes.get(context) else { return [] }
            // Large batches: one COPY and one commit carry thousands of records; lanes' transactions side by side.
            return [ProjectionSubscription(lanes: lanes, topics: AuditParts.topics, maximumBatchSize: 5000)]
        }
        definition.workers = { context in
            guard let postgres = context.postgres else { return [] }
            let lanes = try AuditParts.lanes.get(context)
            let source = context.configuration.source
            return [
                try LogStreamDelivery(context: context, postgres: postgres, schema: AuditParts.schema),
                AuditCheckpointer(
                    context: context,
                    interval: .seconds(try source.int("SIGIL_AUDIT_CHECKPOINT_SECONDS", default: 60, in: 1...86_400)),
                    eventInterval: try source.int(
                        "SIGIL_AUDIT_CHECKPOINT_EVENTS", default: 10_000, in: 1...100_000_000),
                    heads: {
                        try await AuditProjection.heads(
                            schema: AuditParts.schema, postgres: postgres, logger: context.logger)
                    },
                    recorded: { lanes.reduce(0) { $0 + $1.recorded } }),
            ]
        }
        definition.routes = { group, context in
            guard let postgres = context.postgres else { return }
            AuditQueryController(schema: AuditParts.schema, postgres: postgres, context: context).add(to: group)
            LogStreamStatusController(schema: AuditParts.schema, postgres: postgres, context: context).add(to: group)
        }
        definition.openAPIPaths = AuditQueryController.openAPIPaths.merging(LogStreamStatusController.openAPIPaths) {
            first, _ in first
        }
        definition.openAPISchemas = AuditQueryController.openAPISchemas.merging(
            LogStreamStatusController.openAPISchemas
        ) { first, _ in first }
        return definition
    }
}

/// The audit service's long-lived parts.
enum AuditParts {
    static let schema = SchemaName("audit")
    /// Every topic is recorded, the checkpoints too (so log streams ship them), in chains the checkpointer leaves
    /// out of its checkpoints.
    static let topics = SigilTopic.allCases
    /// The audit log's projection, once per lane (`SIGIL_AUDIT_LANES`, default 2): each lane records its share of
    /// every topic's partitions in transactions of its own, so one batch's insert and commit run beside another's.
    static let lanes = ServicePart { context in
        guard let postgres = context.postgres else {
            throw ConfigurationError(key: "SIGIL_POSTGRES_URL", expected: "set: the audit log lives in PostgreSQL")
        }
        let count = try context.configuration.source.int("SIGIL_AUDIT_LANES", default: 2, in: 1...16)
        return (0..<count).map { _ in AuditProjection(schema: schema, postgres: postgres) }
    }
}
