import Logging
import PostgresNIO
import SigilEvents
import SigilKafka

/// Turns events into rows. `apply` runs inside the batch's transaction; it must write only through `connection`.
///
/// Throw `ProjectionRejection` for an event that can never be applied (it is dead-lettered and skipped). Any other
/// error means the batch could not be applied now (database trouble): the whole batch is rolled back, offsets
/// included, and retried.
public protocol Projection: Sendable {
    /// Unique within the schema; keys the stored offsets.
    var name: String { get }
    /// What `apply` is given: the envelope, the decoded payload, and where the record was read.
    func apply(_ event: ProjectedEvent, connection: PostgresConnection, logger: Logger) async throws
    /// Applies a batch's events at once (e.g. one multi-row insert). If it throws a `ProjectionRejection` or a
    /// database error about an event's values, the runner rolls its writes back, calls `beginBatch` again and applies
    /// the events one at a time with `apply`, to dead-letter just the culprits. Default: `apply` for each event.
    func apply(batch events: [ProjectedEvent], connection: PostgresConnection, logger: Logger) async throws
    /// Called at the start of each batch's transaction (and before the one-at-a-time retry of a batch): forget any
    /// state kept for a batch that did not commit.
    func beginBatch()
    /// Called once before the first batch (after migrations): the place to load in-memory views.
    func start(logger: Logger) async throws
    /// Called after a batch committed (rows and offsets durable): the place to refresh in-memory views.
    func batchCommitted(logger: Logger) async throws
}

extension Projection {
    public func apply(batch events: [ProjectedEvent], connection: PostgresConnection, logger: Logger) async throws {
        for event in events { try await apply(event, connection: connection, logger: logger) }
    }
    public func beginBatch() {}
    public func start(logger: Logger) async throws {}
    public func batchCommitted(logger: Logger) async throws {}
}

/// One event as a projection sees it.
public struct ProjectedEvent: Sendable {
    public let envelope: CloudEvent
    public let payload: any EventPayload
    public let topic: String
    public let partition: Int32
    public let offset: Int64
}

/// "This event can never be applied": the runner dead-letters it with this reason and goes on.
public struct ProjectionRejection: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let detail: String

    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
