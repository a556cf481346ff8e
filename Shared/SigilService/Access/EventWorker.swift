import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle
import SigilEvents
import SigilKafka
import SigilProjection

/// Consumes a work topic in a consumer group (replicas share its partitions) and hands each Sigil event to a
/// handler. A record that is not a readable event, or whose handling fails, is dead-lettered and the worker goes
/// on; a record is marked processed only after that.
public struct EventWorker: Service {
    public typealias Handler = @Sendable (CloudEvent, any EventPayload, Logger) async throws -> Void

    let name: String
    let topics: [SigilTopic]
    let context: ServiceContext
    let handle: Handler

    public init(name: String, topics: [SigilTopic], context: ServiceContext, handle: @escaping Handler) {
        self.name = name
        self.topics = topics
        self.context = context
        self.handle = handle
        // Not ready until the group has given this worker its partitions: a request sent earlier would wait.
        context.readiness.addCondition("worker:\(name)")
    }

    /// Pause before consuming again after a record could not be handled for a transient reason, doubled while it
    /// keeps failing at once.
    static let retryDelay: Duration = .milliseconds(200)
    static let maximumRetryDelay: Duration = .seconds(10)

    /// Failures of what the handler depends on, not of the event: worth trying again, never a dead letter.
    static func isTransient(_ error: any Error) -> Bool {
        switch error {
        case is KafkaError: return true
        case let error as PSQLError:
            guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return true }
            // Connection exceptions, transaction rollbacks (serialization), insufficient resources, operator
            // intervention (shutdown, restart).
            return ["08", "40", "53", "57"].contains(String(state.prefix(2)))
        default: return false
        }
    }

    public func run() async throws {
        var logger = context.logger
        logger[metadataKey: "worker"] = "\(name)"
        var backoff = Backoff(first: Self.retryDelay, maximum: Self.maximumRetryDelay)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let attempt = ContinuousClock.now
            do {
                try await consume(logger: logger)
                return
            } catch {
                // The record was not marked processed: the group redelivers it after the consumer rejoins.
                if ContinuousClock.now - attempt > Self.maximumRetryDelay { backoff.reset() }
                let delay = backoff.next()
                Counter(label: "sigil.worker.retries", dimensions: [("worker", name)]).increment()
                logger.error(
                    "worker stopped; consuming again",
                    metadata: ["error": "\(String(reflecting: error))", "retry.in": "\(delay)"])
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
            }
        }
    }

    private func consume(logger: Logger) async throws {
        var configuration = KafkaConsumerConfiguration(
            client: context.configuration.kafkaClient("\(context.source.service)-\(name)"),
            mode: .group(id: "sigil-\(context.source.service)-\(name)", topics: topics.map(context.topics.name))
        )
        configuration.fetchWaitMaxMilliseconds = context.configuration.kafkaFetchWaitMaxMilliseconds
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let deadLetters = DeadLetterWriter(
            producer: context.producer,
            topic: context.topics.name(.deadletter),
            source: context.source,
            consumer: "\(context.source.service)/\(name)",
            sign: context.sign
        )
        let readiness = context.readiness
        let condition = "worker:\(name)"
        let assigned = Task {
            while !Task.isCancelled {
                if let partitions = try? consumer.assignment(), !partitions.isEmpty {
                    readiness.satisfy(condition)
                    return
                }
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        defer { assigned.cancel() }
        do {
            try await withGracefulShutdownHandler {
                while let batch = try await consumer.nextBatch() {
                    for message in batch {
                        try await process(message, deadLetters: deadLetters, logger: logger)
                        try consumer.markProcessed(message)
                    }
                }
            } onGracefulShutdown: {
                consumer.stop()
            }
        } catch {
            await consumer.close()  // commits what was processed, nothing after the failed record
            throw error
        }
        await consumer.close()
    }

    /// Handles one record, or dead-letters it; throws only when neither worked (then it must be retried).
    private func process(_ message: KafkaConsumerMessage, deadLetters: DeadLetterWriter, logger: Logger) async throws {
        let event: CloudEvent
        let payload: any EventPayload
        do {
            event = try CloudEvent(kafkaMessage: message)
            payload = try EventCatalog.sigil.decode(event)
        } catch {
            try await deadLetters.write(message, code: error.code, detail: error.description, logger: logger)
            return
        }
        // Nothing acts on an event it cannot attribute to a role allowed to produce it.
        guard let authentication = context.authentication else {
            try await deadLetters.write(
                message, code: "no-trust-bundle", detail: "this service cannot verify events", logger: logger)
            return
        }
        do {
            try authentication.authenticate(event, payload)
        } catch {
            try await deadLetters.write(message, code: error.code, detail: error.detail, logger: logger)
            return
        }
        do {
            try await handle(event, payload, logger)
        } catch  where Self.isTransient(error) {
            // Broker or database unreachable: not the event's fault. Not marked processed, so it is handled again
            // (its deadline, if any, decides whether that still matters).
            throw error
        } catch {
            logger.error(
                "handler failed", metadata: ["event": "\(event.type)", "error": "\(String(reflecting: error))"])
            try await deadLetters.write(
                message, code: "handler-failed", detail: "\(event.type) could not be handled", logger: logger)
        }
    }
}

extension ServiceContext {
    /// Publishes an event to one of Sigil's topics and waits for the broker. An event written `inResponseTo` another
    /// (an attestation for a request, a decision for an attestation) carries that event's trace and an id derived
    /// from it: handling the same record again after a crash (Kafka delivers at least once) writes the same event,
    /// which the audit log keeps once.
    public func publish(
        _ payload: some EventPayload,
        to topic: SigilTopic,
        tenant: String,
        partitionKey: String,
        partition: Int32? = nil,
        subject: String? = nil,
        inResponseTo cause: CloudEvent? = nil
    ) async throws {
        _ = try await producer.sendAndAwait(
            message(
                payload, to: topic, tenant: tenant, partitionKey: partitionKey, partition: partition,
                subject: subject, cause: cause))
    }

    /// Hands an event to the producer without waiting for the broker (librdkafka sends it); throws only when it
    /// cannot be enqueued. For paths with their own deadline (the edge), or where a late delivery is harmless.
    public func enqueue(
        _ payload: some EventPayload,
        to topic: SigilTopic,
        tenant: String,
        partitionKey: String,
        subject: String? = nil
    ) throws {
        try producer.send(message(payload, to: topic, tenant: tenant, partitionKey: partitionKey, subject: subject))
    }

    private func message(
        _ payload: some EventPayload, to topic: SigilTopic, tenant: String, partitionKey: String,
        partition: Int32? = nil, subject: String?, cause: CloudEvent? = nil
    ) throws -> KafkaProducerMessage {
        let id = cause.map { DerivedEventID.make(from: $0.id, type: type(of: payload).eventType) } ?? UUIDv7.generate()
        return try sign(
            payload.cloudEvent(
                source: source, tenant: tenant, partitionKey: partitionKey, subject: subject,
                traceparent: cause?.traceparent, id: id)
        ).kafkaMessage(topic: topics.name(topic), partition: partition)
    }

    /// The event signed with this service role's key (unsigned only in hand-built test contexts).
    @Sendable public func sign(_ event: CloudEvent) throws -> CloudEvent {
        guard let authentication else { return event }
        return try authentication.signer.sign(event)
    }

    /// Events produced together, signed as one batch (`EventSigner.sign(batch:)`), each still verifiable alone.
    public func sign(batch events: [CloudEvent]) throws -> [CloudEvent] {
        guard let authentication else { return events }
        return try authentication.signer.sign(batch: events)
    }
}
