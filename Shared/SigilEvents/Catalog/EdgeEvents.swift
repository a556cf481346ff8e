import Foundation

public struct EdgeStarted: EventPayload {
    public static let eventType = EventType(area: "edge", event: "started", version: 1)
    public var edgeID: String
    public var replyPartition: Int32
    public init(edgeID: String, replyPartition: Int32) {
        self.edgeID = edgeID
        self.replyPartition = replyPartition
    }
}

public struct EdgeStopped: EventPayload {
    public static let eventType = EventType(area: "edge", event: "stopped", version: 1)
    public var edgeID: String
    public init(edgeID: String) { self.edgeID = edgeID }
}

public struct RequestProxied: EventPayload {
    public static let eventType = EventType(area: "edge", event: "request-proxied", version: 1)
    public var edgeID: String
    public var requestID: String?
    public var target: AccessTarget
    public var status: Int
    public var bytes: Int
    public var latencyMilliseconds: Double
    public init(
        edgeID: String,
        requestID: String?,
        target: AccessTarget,
        status: Int,
        bytes: Int,
        latencyMilliseconds: Double
    ) {
        self.edgeID = edgeID
        self.requestID = requestID
        self.target = target
        self.status = status
        self.bytes = bytes
        self.latencyMilliseconds = latencyMilliseconds
    }
}

/// What a posture feed (an EDR's host feed, a cloud-security tool's cluster feed) says of one subject — a host or a
/// cluster — as `sigil-policy` pulled it: a score (0-100, higher is better) and a status where the feed has them, and
/// when the feed last saw the subject. Written when any of them changes; keyed by tenant, feed and subject (the
/// topic keeps each subject's latest).
public struct PostureReported: EventPayload {
    public static let eventType = EventType(area: "posture", event: "reported", version: 2)
    /// The `PostureFeed` resource it came from.
    public var feed: String
    /// The host name, device id or cluster name the feed reports on.
    public var subject: String
    public var score: Int?
    /// The feed's word for the subject's state (`normal`, `contained`, `healthy`, ...), lower case.
    public var status: String?
    /// When the feed last heard from the subject.
    public var lastSeen: Date
    /// When Sigil pulled it.
    public var observedAt: Date

    public init(feed: String, subject: String, score: Int?, status: String?, lastSeen: Date, observedAt: Date) {
        self.feed = feed
        self.subject = subject
        self.score = score
        self.status = status
        self.lastSeen = lastSeen
        self.observedAt = observedAt
    }
}

/// The use of credentials through one edge over a window (default 10 s): per server workload, credential (the access
/// request that obtained it) and status class, how many requests, how many bytes and how long they took.
public struct RequestsSummarized: EventPayload {
    public static let eventType = EventType(area: "edge", event: "requests-summarized", version: 1)

    /// Upper bounds of the latency histogram's buckets, in milliseconds; a last bucket counts everything slower.
    public static let latencyBucketsMilliseconds: [Double] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000]

    public struct Key: Hashable, Sendable {
        public var serverWorkload: String
        public var target: AccessTarget
        public var credentialRequestID: String?
        public var statusClass: String
        public init(serverWorkload: String, target: AccessTarget, credentialRequestID: String?, statusClass: String) {
            self.serverWorkload = serverWorkload
            self.target = target
            self.credentialRequestID = credentialRequestID
            self.statusClass = statusClass
        }
    }

    public struct Entry: Codable, Sendable, Equatable {
        public var serverWorkload: String
        public var target: AccessTarget
        public var credentialRequestID: String?
        public var statusClass: String
        public var requests: Int = 0
        public var bytesIn: Int = 0
        public var bytesOut: Int = 0
        /// Requests per bucket of `latencyBucketsMilliseconds`, plus one for slower ones.
        public var latencyCounts: [Int] = Array(
            repeating: 0, count: RequestsSummarized.latencyBucketsMilliseconds.count + 1)
        public var latencyMaxMilliseconds: Double = 0

        public init(key: Key) {
            serverWorkload = key.serverWorkload
            target = key.target
            credentialRequestID = key.credentialRequestID
            statusClass = key.statusClass
        }

        public mutating func add(bytesIn: Int, bytesOut: Int, latencyMilliseconds: Double) {
            requests += 1
            self.bytesIn += bytesIn
            self.bytesOut += bytesOut
            let bucket =
                RequestsSummarized.latencyBucketsMilliseconds.firstIndex { latencyMilliseconds <= $0 }
                ?? RequestsSummarized.latencyBucketsMilliseconds.count
            latencyCounts[bucket] += 1
            latencyMaxMilliseconds = max(latencyMaxMilliseconds, latencyMilliseconds)
        }

        public mutating func merge(_ other: Entry) {
            requests += other.requests
            bytesIn += other.bytesIn
            bytesOut += other.bytesOut
            for index in latencyCounts.indices where index < other.latencyCounts.count {
                latencyCounts[index] += other.latencyCounts[index]
            }
            latencyMaxMilliseconds = max(latencyMaxMilliseconds, other.latencyMaxMilliseconds)
        }
    }

    public var edgeID: String
    public var windowStart: Date
    public var windowEnd: Date
    public var latencyBucketsMilliseconds: [Double] = RequestsSummarized.latencyBucketsMilliseconds
    public var entries: [Entry]

    public init(edgeID: String, windowStart: Date, windowEnd: Date, entries: [Entry]) {
        self.edgeID = edgeID
        self.windowStart = windowStart
        self.windowEnd = windowEnd
        self.entries = entries
    }
}
