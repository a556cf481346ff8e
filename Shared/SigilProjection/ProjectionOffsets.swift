import Logging
import PostgresNIO
import SigilKafka

/// The `(topic, partition, next_offset)` rows of one projection, stored in its schema with its rows.
struct ProjectionOffsets: Sendable {
    let schema: SchemaName
    let projection: String

    func load(from client: PostgresClient, logger: Logger) async throws -> [TopicPartition: Int64] {
        let rows = try await client.query(
            """
            SELECT topic, partition, next_offset FROM \(unescaped: schema.rawValue).projection_offsets
            WHERE projection = \(projection)
            """,
            logger: logger
        )
        var offsets: [TopicPartition: Int64] = [:]
        for try await (topic, partition, offset) in rows.decode((String, Int32, Int64).self) {
            offsets[TopicPartition(topic: topic, partition: partition)] = offset
        }
        return offsets
    }

    /// Fencing, at the start of a batch's transaction: no partition's stored next offset may be past where this batch
    /// starts (it may be before it: records in between can have been compacted or deleted; a partition never stored
    /// is claimed at the batch's start). The rows stay locked until the
    /// transaction ends, so of two replicas applying the same records one waits, then finds the offset moved and
    /// fails with `StaleProjectionWriter` instead of applying them twice or moving the offset back. Two round trips
    /// whatever the number of partitions (each one costs a wake-up of both processes, which on a busy machine was
    /// tens of milliseconds a batch); rows are inserted and locked in (topic, partition) order, as every writer does.
    func claim(_ starts: [TopicPartition: Int64], on connection: PostgresConnection, logger: Logger) async throws {
        guard !starts.isEmpty else { return }
        let sorted = starts.sorted(by: { $0.key < $1.key })
        let (topics, partitions) = (sorted.map(\.key.topic), sorted.map(\.key.partition))
        try await connection.query(
            """
            INSERT INTO \(unescaped: schema.rawValue).projection_offsets (projection, topic, partition, next_offset)
            SELECT \(projection), * FROM unnest(\(topics), \(partitions), \(sorted.map(\.value)))
            ON CONFLICT (projection, topic, partition) DO NOTHING
            """,
            logger: logger
        )
        let rows = try await connection.query(
            """
            SELECT topic, partition, next_offset FROM \(unescaped: schema.rawValue).projection_offsets
            WHERE projection = \(projection) AND (topic, partition) IN (SELECT * FROM unnest(\(topics), \(partitions)))
            ORDER BY topic COLLATE "C", partition
            FOR UPDATE
            """,
            logger: logger
        )
        var stored: [TopicPartition: Int64] = [:]
        for try await (topic, partition, offset) in rows.decode((String, Int32, Int64).self) {
            stored[TopicPartition(topic: topic, partition: partition)] = offset
        }
        for (position, start) in sorted {
            guard let offset = stored[position], offset <= start else {
                throw StaleProjectionWriter(
                    projection: projection, position: position, expected: start, stored: stored[position] ?? -1)
            }
        }
    }

    /// The batch's next offsets, in one statement.
    func store(_ offsets: [TopicPartition: Int64], on connection: PostgresConnection, logger: Logger) async throws {
        guard !offsets.isEmpty else { return }
        let sorted = offsets.sorted(by: { $0.key < $1.key })
        try await connection.query(
            """
            UPDATE \(unescaped: schema.rawValue).projection_offsets AS stored
            SET next_offset = moved.next_offset, updated_at = now()
            FROM unnest(\(sorted.map(\.key.topic)), \(sorted.map(\.key.partition)), \(sorted.map(\.value)))
                AS moved(topic, partition, next_offset)
            WHERE stored.projection = \(projection) AND stored.topic = moved.topic AND stored.partition = moved.partition
            """,
            logger: logger
        )
    }
}

/// Another writer applied these records first: this replica's view is stale. Its transaction rolls back and it
/// resumes from the stored offsets.
public struct StaleProjectionWriter: Error, Sendable, CustomStringConvertible {
    public let projection: String
    public let position: TopicPartition
    public let expected: Int64
    public let stored: Int64

    public var description: String {
        "\(projection): \(position.topic)/\(position.partition) is at \(stored), not \(expected): another writer applied it"
    }
}

public struct TopicPartition: Sendable, Hashable, Comparable {
    public let topic: String
    public let partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: TopicPartition, rhs: TopicPartition) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }
}
