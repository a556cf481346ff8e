import PostgresNIO
import SigilEvents
import SigilProjection

extension ResourceKind {
    /// The table of one kind that the first migration of each service created (one row per tenant and name, the
    /// spec as JSON); replaced by `resources` (see `Migration.resources`), kept so that migration is unchanged.
    public func createTable(in schema: SchemaName) -> PostgresQuery {
        """
        CREATE TABLE \(unescaped: schema.rawValue).\(unescaped: tableName) (
            tenant text NOT NULL,
            name text NOT NULL,
            spec jsonb NOT NULL,
            defined_at timestamptz NOT NULL,
            PRIMARY KEY (tenant, name))
        """
    }
}

extension Migration {
    /// One table for the resources of every kind: the envelope's metadata and references for all (to check
    /// references and follow versions), the spec for kinds the service owns. Replaces the per-kind tables of the
    /// first migration; the resources projection replays `sigil.config` from the beginning to fill it.
    public static func resources(version: Int, replacing kinds: [ResourceKind]) -> Migration {
        Migration(version: version, name: "resources of every kind in one typed table") { schema in
            kinds.map { "DROP TABLE IF EXISTS \(unescaped: schema.rawValue).\(unescaped: $0.tableName)" } + [
                """
                CREATE TABLE \(unescaped: schema.rawValue).resources (
                    tenant text NOT NULL,
                    kind text NOT NULL,
                    name text NOT NULL,
                    metadata jsonb NOT NULL,
                    refs jsonb NOT NULL,
                    spec jsonb,
                    PRIMARY KEY (tenant, kind, name))
                """,
                "DELETE FROM \(unescaped: schema.rawValue).projection_offsets WHERE projection = 'resources'",
            ]
        }
    }
}
