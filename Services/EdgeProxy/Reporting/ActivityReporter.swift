import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SigilEvents

/// The use of credentials, counted where it happens: one tally per proxy event loop, touched only on its loop, so
/// counting a request takes no lock. Every interval the reporter drains each loop's tally and publishes one
/// `edge.requests-summarized` event (count, bytes, latency histogram per server workload, credential and status
/// class) on `edge.activity`.
final class ActivityTally {
    /// Cheap to hash on every request: the credential by identity (held by the entry, so the identity stays its
    /// own), the server workload's name and the status class.
    private struct Key: Hashable {
        let credential: ObjectIdentifier?
        let workload: String
        let statusClass: Int
    }

    private struct Tallied {
        var entry: RequestsSummarized.Entry
        let credential: HeldCredential?
    }

    private var entries: [Key: Tallied] = [:]

    func record(
        workload: EdgeServerWorkload, credential: HeldCredential?, status: Int, bytesIn: Int, bytesOut: Int,
        latencyNanoseconds: UInt64
    ) {
        let key = Key(
            credential: credential.map(ObjectIdentifier.init), workload: workload.name, statusClass: status / 100)
        entries[
            key,
            default: Tallied(
                entry: RequestsSummarized.Entry(
                    key: RequestsSummarized.Key(
                        serverWorkload: workload.name, target: workload.target,
                        credentialRequestID: credential?.requestID, statusClass: "\(status / 100)xx")),
                credential: credential)
        ].entry.add(bytesIn: bytesIn, bytesOut: bytesOut, latencyMilliseconds: Double(latencyNanoseconds) / 1e6)
    }

    func drain() -> [RequestsSummarized.Key: RequestsSummarized.Entry] {
        defer { entries = [:] }
        var drained: [RequestsSummarized.Key: RequestsSummarized.Entry] = [:]
        for tallied in entries.values {
            let entry = tallied.entry
            let key = RequestsSummarized.Key(
                serverWorkload: entry.serverWorkload, target: entry.target,
                credentialRequestID: entry.credentialRequestID, statusClass: entry.statusClass)
            drained[key, default: RequestsSummarized.Entry(key: key)].merge(entry)
        }
        return drained
    }
}

/// Publishes the tallies of every proxy loop each interval, and per-request events for server workloads that ask.
final class ActivityReporter: Service, Sendable {
    typealias Publish = @Sendable (any EventPayload) -> Void

    private let edgeID: String
    private let interval: Duration
    private let send: Publish
    private let flush: @Sendable () -> Void
    private let tallies: [ObjectIdentifier: LoopOwned<ActivityTally>]
    private let loops: [any EventLoop]

    /// `flush` sends whatever `send` still holds (called once, on the way out).
    init(
        edgeID: String, interval: Duration, loops: [any EventLoop], flush: @escaping @Sendable () -> Void = {},
        send: @escaping Publish
    ) {
        self.edgeID = edgeID
        self.interval = interval
        self.send = send
        self.flush = flush
        self.loops = loops
        var tallies: [ObjectIdentifier: LoopOwned<ActivityTally>] = [:]
        for loop in loops { tallies[ObjectIdentifier(loop)] = LoopOwned(ActivityTally(), eventLoop: loop) }
        self.tallies = tallies
    }

    /// The tally of `loop` (call on that loop).
    func tally(on loop: any EventLoop) -> ActivityTally {
        tallies[ObjectIdentifier(loop)]!.value
    }

    func publish(_ event: any EventPayload) { send(event) }

    /// Drains every loop's tally into one summary for the window that ends now; nil when nothing happened.
    func summarize(since start: Date) async -> RequestsSummarized? {
        var merged: [RequestsSummarized.Key: RequestsSummarized.Entry] = [:]
        for loop in loops {
            guard let bound = tallies[ObjectIdentifier(loop)] else { continue }
            let drained = try? await loop.submit { bound.value.drain() }.get()
            for (key, entry) in drained ?? [:] {
                merged[key, default: RequestsSummarized.Entry(key: key)].merge(entry)
            }
        }
        guard !merged.isEmpty else { return nil }
        return RequestsSummarized(
            edgeID: edgeID, windowStart: start, windowEnd: Date(),
            entries: merged.values.sorted { ($0.serverWorkload, $0.statusClass) < ($1.serverWorkload, $1.statusClass) })
    }

    func run() async throws {
        let lastStart = await cancelWhenGracefulShutdown {
            var start = Date()
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                if let summary = await self.summarize(since: start) { self.send(summary) }
                start = Date()
            }
            return start
        }
        // What the last interval counted is reported on the way out.
        if let summary = await summarize(since: lastStart) { send(summary) }
        flush()
    }
}
