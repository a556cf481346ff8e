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

/// A posture signal about a workload or host, from an EDR or cloud-security feed.
public struct PostureReported: EventPayload {
    public static let eventType = EventType(area: "posture", event: "reported", version: 1)
    public var subject: String
    public var signal: String
    public var value: JSONValue
    public var observedAt: Date
    public init(subject: String, signal: String, value: JSONValue, observedAt: Date) {
        self.subject = subject
        self.signal = signal
        self.value = value
        self.observedAt = observedAt
    }
}
