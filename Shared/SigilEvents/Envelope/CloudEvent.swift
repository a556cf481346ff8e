import Foundation

/// A CloudEvents 1.0 event as Sigil carries it on Kafka in binary mode: the attributes travel as `ce_` headers,
/// the data (JSON) is the record value, and the record key is the partition key.
public struct CloudEvent: Sendable, Equatable {
    public static let specVersion = "1.0"

    /// UUIDv7, unique per event; consumers use it to recognise a redelivery.
    public var id: String
    /// `/sigil/<service>/<instance>`.
    public var source: String
    /// `dev.sigil.<area>.<event>.v<version>`.
    public var type: EventType
    public var time: Date
    /// What the event is about, e.g. a resource name or a request id.
    public var subject: String?
    /// The tenant the event belongs to; every consumer scopes by it.
    public var tenant: String
    /// The Kafka key: the tenant for configuration, the request or edge id for access events.
    public var partitionKey: String
    /// W3C trace context of the request that caused the event.
    public var traceparent: String?
    public var dataContentType: String
    /// The JSON payload.
    public var data: [UInt8]

    public init(
        id: String = UUIDv7.generate(),
        source: String,
        type: EventType,
        time: Date = Date(),
        subject: String? = nil,
        tenant: String,
        partitionKey: String,
        traceparent: String? = nil,
        dataContentType: String = "application/json",
        data: [UInt8]
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.subject = subject
        self.tenant = tenant
        self.partitionKey = partitionKey
        self.traceparent = traceparent
        self.dataContentType = dataContentType
        self.data = data
    }
}

/// Where an event comes from: `/sigil/<service>/<instance>`.
public struct EventSource: Sendable, Hashable, CustomStringConvertible {
    public let service: String
    public let instance: String

    public init(service: String, instance: String) {
        self.service = service
        self.instance = instance
    }

    public var description: String { "/sigil/\(service)/\(instance)" }
}
