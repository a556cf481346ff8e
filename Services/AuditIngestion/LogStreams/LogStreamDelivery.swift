import Foundation
import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SigilProjection
import SigilService

/// Delivers every log stream: one task per stream (restarted when its spec changes, stopped when it is removed), each
/// reading committed audit records after its stored positions, sending them, then moving its positions: at least
/// once, never a record that was not committed. A failing destination is retried with capped backoff, forever,
/// without holding up ingestion or any other stream. With several audit replicas, a lease makes one of them deliver
/// each stream; another takes over within `LogStreamProgress.lease` seconds when it dies.
final class LogStreamDelivery: Service, Sendable {
    let streams: ResourceIndex<LogStreamSpec>
    let postgres: PostgresClient
    let schema: SchemaName
    /// This replica, as the holder of stream leases.
    let owner: String
    let environment: LogSenderEnvironment
    let logger: Logger

    init(
        streams: ResourceIndex<LogStreamSpec>, postgres: PostgresClient, schema: SchemaName, owner: String,
        environment: LogSenderEnvironment, logger: Logger
    ) {
        self.streams = streams
        self.postgres = postgres
        self.schema = schema
        self.owner = owner
        self.environment = environment
        self.logger = logger
    }

    convenience init(context: ServiceContext, postgres: PostgresClient, schema: SchemaName) throws {
        self.init(
            streams: context.resources.index(LogStreamSpec.self), postgres: postgres, schema: schema,
            owner: context.configuration.instanceID,
            environment: LogSenderEnvironment(
                fileDirectory: try LogFileDirectory.configured(context.configuration),
                secrets: try LogStreamSecrets.configured(context.configuration), logger: context.logger),
            logger: context.logger)
    }

    func run() async throws {
        await withDiscardingTaskGroup { group in
            var running: [String: (version: String, task: Task<Void, Never>)] = [:]
            while !Task.isCancelled && !Task.isShuttingDownGracefully {
                let current = streams.everything
                let wanted = Dictionary(current.map { ($0.metadata.uid, $0) }) { first, _ in first }
                for (uid, entry) in running where wanted[uid]?.metadata.resourceVersion != entry.version {
                    entry.task.cancel()
                    running[uid] = nil
                }
                for (uid, stream) in wanted where running[uid] == nil {
                    let task = Task { await self.deliver(stream) }
                    running[uid] = (stream.metadata.resourceVersion, task)
                    group.addTask { await task.value }
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            }
            for entry in running.values { entry.task.cancel() }
        }
    }

    /// One stream's loop, until it is cancelled.
    func deliver(_ stream: Resource<LogStreamSpec>) async {
        let tenant = stream.metadata.tenant
        var logger = self.logger
        logger[metadataKey: "logStream"] = "\(tenant)/\(stream.name)"
        let progress = LogStreamProgress(stream, schema: schema, postgres: postgres, owner: owner)
        let dimensions = [("tenant", tenant), ("stream", stream.name)]
        let delivered = Counter(label: "sigil.log_stream.delivered", dimensions: dimensions)
        let failures = Counter(label: "sigil.log_stream.failures", dimensions: dimensions)
        let lag = Gauge(label: "sigil.log_stream.lag", dimensions: dimensions)
        let lastDelivery = Gauge(label: "sigil.log_stream.last_delivery_seconds", dimensions: dimensions)
        let formatter = LogRecordFormatter(format: stream.spec.format, hostname: Self.hostname)
        var backoff = Backoff(first: .milliseconds(500), maximum: .seconds(30))
        var sender: (any LogSender)?
        var lastStatus = ContinuousClock.now - .seconds(60)
        var lastSent = ContinuousClock.now
        var waiting: Int64 = 0  // records waiting, as of the last status
        while !Task.isCancelled {
            do {
                guard try await progress.acquire(logger: logger) else {
                    try await Task.sleep(for: .seconds(5))  // another replica delivers it
                    continue
                }
                if ContinuousClock.now - lastStatus > .seconds(5) {
                    lastStatus = ContinuousClock.now
                    let status = try await progress.status(destination: "", format: "", logger: logger)
                    lag.record(status.lagRecords)
                    waiting = status.lagRecords
                }
                let destination = try sender ?? stream.sender(formatter: formatter, environment: environment)
                sender = destination
                // A destination that takes windows (S3) waits for the window's end, or for a full batch waiting.
                if let window = destination.window, ContinuousClock.now - lastSent < window,
                    waiting < destination.batchLimit
                {
                    try await Task.sleep(for: .milliseconds(250))
                    continue
                }
                let records = try await progress.pending(limit: destination.batchLimit, logger: logger)
                guard !records.isEmpty else {
                    lag.record(0)
                    try await Task.sleep(for: .milliseconds(250))
                    continue
                }
                let selected = records.filter { stream.spec.filter?.matches($0) ?? true }
                try await destination.send(selected)
                try await progress.advance(past: records, delivered: selected.count, logger: logger)
                lastSent = ContinuousClock.now
                delivered.increment(by: selected.count)
                lastDelivery.record(Date().timeIntervalSince1970)
                backoff.reset()
            } catch is CancellationError {
                break
            } catch {
                failures.increment()
                let delay = backoff.next()
                logger.warning(
                    "log stream delivery failed; retrying",
                    metadata: ["error": "\(error)", "retry.in": "\(delay)"])
                try? await progress.failed("\(error)", logger: logger)
                try? await Task.sleep(for: delay)
            }
        }
        await sender?.close()
    }

    static let hostname = ProcessInfo.processInfo.hostName
}
