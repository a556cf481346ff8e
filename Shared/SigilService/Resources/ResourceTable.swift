import PostgresNIO
import SigilEvents
import SigilProjection

extension ResourceKind {
    /// The statement that creates this kind's table: one row per tenant and name, the stored spec as JSON.
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
