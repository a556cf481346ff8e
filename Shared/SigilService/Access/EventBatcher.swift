import Logging
import Metrics
import SigilEvents
import SigilKafka
import Synchronization

/// Events nothing waits for — an edge's per-request reports and activity summaries — produced in batches: held for
/// up to `linger` (5 ms, librdkafka's own default linger), then signed together (`EventSigner.sign(batch:)`: one
/// Ed25519 signature per batch, each event carrying its Merkle path) and handed to the producer. A busy edge signs a
/// few hundred reports with one signature instead of one each, and the audit service verifies them at that rate; a
/// quiet edge's report goes out alone 5 ms later. `flush()` on the way out sends whatever is held.
public final class EventBatcher: Sendable {
    public static let linger: Duration = .milliseconds(5)
    /// Held events that start a flush at once rather than at the end of the linger.
    static let eagerFlush = 1_024
    /// Held events beyond which new ones are refused (the producer is not keeping up).
    static let maximumHeld = 65_536

    private struct Held {
        var events: [(event: CloudEvent, topic: String)] = []
        var lingering = false
        var eager = false
    }

    private let context: ServiceContext
    private let held = Mutex(Held())
    private let refused = Counter(label: "sigil.events.batch_refused")

    public init(context: ServiceContext) {
        self.context = context
    }

    public struct Overflow: Error, CustomStringConvertible {
        public var description: String { "\(EventBatcher.maximumHeld) events are waiting to be produced" }
    }

    /// Holds the event for the next batch; throws only when too many are already waiting.
    public func enqueue(
        _ payload: some EventPayload, to topic: SigilTopic, tenant: String, partitionKey: String, subject: String?
    ) throws {
        let event = try payload.cloudEvent(
            source: context.source, tenant: tenant, partitionKey: partitionKey, subject: subject)
        let name = context.topics.name(topic)
        let (linger, eager) = try held.withLock { held throws(Overflow) -> (Bool, Bool) in
            guard held.events.count < Self.maximumHeld else {
                refused.increment()
                throw Overflow()
            }
            held.events.append((event, name))
            let linger = !held.lingering
            let eager = held.events.count >= Self.eagerFlush && !held.eager
            held.lingering = true
            held.eager = held.eager || eager
            return (linger, eager)
        }
        if eager { Task { self.flush() } }
        if linger {
            Task {
                try? await Task.sleep(for: Self.linger)
                self.flush()
            }
        }
    }

    /// Signs and produces every held event now.
    public func flush() {
        let events = held.withLock { held in
            defer { held = Held() }
            return held.events
        }
        guard !events.isEmpty else { return }
        let signed: [CloudEvent]
        do {
            signed =
                try context.authentication.map { try $0.signer.sign(batch: events.map(\.event)) }
                ?? events.map(\.event)
        } catch {
            refused.increment(by: events.count)
            context.logger.error("events not signed", metadata: ["error": "\(error)", "count": "\(events.count)"])
            return
        }
        var failed = 0
        for (event, held) in zip(signed, events) {
            do {
                try context.producer.send(event.kafkaMessage(topic: held.topic))
            } catch {
                failed += 1
            }
        }
        if failed > 0 {
            refused.increment(by: failed)
            context.logger.warning(
                "events not produced: the producer's queue is full", metadata: ["count": "\(failed)"])
        }
    }
}
