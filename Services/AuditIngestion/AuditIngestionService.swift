import SigilEvents
import SigilProjection
import SigilService

extension SigilServiceDefinition {
    /// `sigil-audit`: projects every event into the hash-chained audit log and streams it to SIEMs.
    static let auditIngestion = SigilServiceDefinition(
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
                        previous_hash bytea NOT NULL,
                        hash bytea NOT NULL,
                        PRIMARY KEY (tenant, sequence),
                        UNIQUE (tenant, event_id))
                    """,
                    "CREATE INDEX events_type_time ON \(unescaped: schema.rawValue).events (tenant, event_type, occurred_at)",
                    """
                    CREATE TABLE \(unescaped: schema.rawValue).log_streams (
                        tenant text NOT NULL,
                        name text NOT NULL,
                        spec jsonb NOT NULL,
                        defined_at timestamptz NOT NULL,
                        PRIMARY KEY (tenant, name))
                    """,
                ]
            }
        ],
        topics: SigilTopic.allCases
    )
}
