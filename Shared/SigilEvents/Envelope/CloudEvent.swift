import Foundation

/// A CloudEvents 1.0 event as Sigil carries it on Kafka in binary mode: the attributes travel as `ce_` headers,
/// the data (JSON) is the record value, and the record key is the partition key.
public struct CloudEvent: Sendable {
    public static let specVersion = "1.0"

    /// UUIDv7, unique per event; consumers use it to recognise a redelivery.
    public var id: String {
        get { storage.attributes.id }
        set { change { $0.id = newValue } }
    }
    /// `/sigil/<service>/<instance>`.
    public var source: String {
        get { storage.attributes.source }
        set { change { $0.source = newValue } }
    }
    /// `dev.sigil.<area>.<event>.v<version>`.
    public var type: EventType {
        get { storage.attributes.type }
        set { change { $0.type = newValue } }
    }
    public var time: Date {
        get { storage.attributes.time }
        set { change { $0.time = newValue } }
    }
    /// What the event is about, e.g. a resource name or a request id.
    public var subject: String? {
        get { storage.attributes.subject }
        set { change { $0.subject = newValue } }
    }
    /// The tenant the event belongs to; every consumer scopes by it.
    public var tenant: String {
        get { storage.attributes.tenant }
        set { change { $0.tenant = newValue } }
    }
    /// The Kafka key: the tenant for configuration, the request or edge id for access events.
    public var partitionKey: String {
        get { storage.attributes.partitionKey }
        set { change { $0.partitionKey = newValue } }
    }
    /// W3C trace context of the request that caused the event.
    public var traceparent: String? {
        get { storage.attributes.traceparent }
        set { change { $0.traceparent = newValue } }
    }
    public var dataContentType: String {
        get { storage.attributes.dataContentType }
        set { change { $0.dataContentType = newValue } }
    }
    /// The JSON payload.
    public var data: [UInt8] {
        get { storage.attributes.data }
        set { change { $0.data = newValue } }
    }
    /// `<keyID>:<base64 Ed25519 signature>` over `signingInput`, by the producing service role's key (extension
    /// attribute `sigilsignature`). Consumers act only on events whose signature verifies for a role allowed to
    /// produce the event's type.
    public var signature: String? {
        get { storage.attributes.signature }
        set { change { $0.signature = newValue } }
    }
    /// The `time` attribute exactly as it was read from the record (what the signature covers: formatting a parsed
    /// time again need not give the same text). Set it when restoring a stored event to verify its signature.
    public var receivedTime: String? {
        get { storage.attributes.receivedTime }
        set { change { $0.receivedTime = newValue } }
    }

    /// The attributes and data, in one copy-on-write box: an event is copied many times on its way through a consumer
    /// (read, batched, projected, recorded), and each copy is then one reference count instead of thirteen.
    private var storage: Storage

    private struct Attributes {
        var id: String
        var source: String
        var type: EventType
        var time: Date
        var subject: String?
        var tenant: String
        var partitionKey: String
        var traceparent: String?
        var dataContentType: String
        var data: [UInt8]
        var signature: String?
        var receivedTime: String?
    }

    /// Written only while uniquely referenced (`change`), so sharing it between threads is safe.
    private final class Storage: @unchecked Sendable {
        @exclusivity(unchecked) var attributes: Attributes
        init(_ attributes: Attributes) { self.attributes = attributes }
    }

    private mutating func change(_ body: (inout Attributes) -> Void) {
        if !isKnownUniquelyReferenced(&storage) { storage = Storage(storage.attributes) }
        body(&storage.attributes)
    }

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
        data: [UInt8],
        signature: String? = nil
    ) {
        storage = Storage(
            Attributes(
                id: id, source: source, type: type, time: time, subject: subject, tenant: tenant,
                partitionKey: partitionKey, traceparent: traceparent, dataContentType: dataContentType, data: data,
                signature: signature, receivedTime: nil))
    }

    /// The `time` attribute as it travels: as received, or RFC 3339 with milliseconds.
    public var timeAttribute: String { receivedTime ?? time.formatted(Self.timeFormat) }

    /// What a signature covers: every attribute and the data, each length-prefixed (so no field can bleed into the
    /// next), under a version tag. The time is taken as it travels (RFC 3339 with milliseconds).
    public var signingInput: [UInt8] {
        // The time formatted once (an event produced here has no received text; formatting costs more than copying).
        let time = timeAttribute
        var bytes: [UInt8] = []
        bytes.reserveCapacity(signingInputCount(time: time))
        writeSigningInput(time: time) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The length of `signingInput`.
    public var signingInputCount: Int { signingInputCount(time: timeAttribute) }

    private func signingInputCount(time: String) -> Int {
        // The tag, eleven length prefixes, then the fields as `writeSigningInput` writes them.
        let attributes =
            Self.specVersion.utf8.count + id.utf8.count + source.utf8.count + type.description.utf8.count
            + time.utf8.count + (subject?.utf8.count ?? 0) + tenant.utf8.count + partitionKey.utf8.count
            + (traceparent?.utf8.count ?? 0) + dataContentType.utf8.count
        return Self.signingTag.count + 4 * 11 + attributes + data.count
    }

    private static let signingTag = Array("sigil-event-signature-v1".utf8)

    /// `signingInput` handed to `write` piece by piece, never assembled: what a hash of it needs, with no copy
    /// (every event read is hashed twice, for its signature and for the audit chain).
    public func writeSigningInput(_ write: (UnsafeRawBufferPointer) -> Void) {
        writeSigningInput(time: timeAttribute, write)
    }

    private func writeSigningInput(time: String, _ write: (UnsafeRawBufferPointer) -> Void) {
        Self.signingTag.withUnsafeBytes(write)
        func field(_ text: String) {
            var text = text
            withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian, write)
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }
        field(Self.specVersion)
        field(id)
        field(source)
        field(type.description)
        field(time)
        field(subject ?? "")
        field(tenant)
        field(partitionKey)
        field(traceparent ?? "")
        field(dataContentType)
        withUnsafeBytes(of: UInt32(data.count).bigEndian, write)
        data.withUnsafeBytes(write)
    }
}

extension CloudEvent: Equatable {
    /// Equal attributes and data (how the time was received does not matter).
    public static func == (lhs: CloudEvent, rhs: CloudEvent) -> Bool {
        lhs.id == rhs.id && lhs.source == rhs.source && lhs.type == rhs.type && lhs.time == rhs.time
            && lhs.subject == rhs.subject && lhs.tenant == rhs.tenant && lhs.partitionKey == rhs.partitionKey
            && lhs.traceparent == rhs.traceparent && lhs.dataContentType == rhs.dataContentType && lhs.data == rhs.data
            && lhs.signature == rhs.signature
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
