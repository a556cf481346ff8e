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

    func store(_ offsets: [TopicPartition: Int64], on connection: PostgresConnection, logger: Logger) async throws {
        for (position, offset) in offsets.sorted(by: { $0.key < $1.key }) {
            try await connection.query(
                """
                INSERT INTO \(unescaped: schema.rawValue).projection_offsets (projection, topic, partition, next_offset)
                VALUES (\(projection), \(position.topic), \(position.partition), \(offset))
                ON CONFLICT (projection, topic, partition)
                DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()
                """,
                logger: logger
            )
        }
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
