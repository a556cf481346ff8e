import Foundation
import SigilKafka

/// CloudEvents Kafka protocol binding, binary content mode.
extension CloudEvent {
    public enum Header {
        public static let specVersion = "ce_specversion"
        public static let id = "ce_id"
        public static let source = "ce_source"
        public static let type = "ce_type"
        public static let time = "ce_time"
        public static let subject = "ce_subject"
        public static let tenant = "ce_tenant"
        public static let partitionKey = "ce_partitionkey"
        public static let traceparent = "ce_traceparent"
        public static let signature = "ce_sigilsignature"
        public static let contentType = "content-type"
    }

    /// The record to produce: attributes as headers, key = partition key, value = data.
    public func kafkaMessage(topic: String, partition: Int32? = nil) -> KafkaProducerMessage {
        var headers = [
            KafkaHeader(key: Header.specVersion, string: Self.specVersion),
            KafkaHeader(key: Header.id, string: id),
            KafkaHeader(key: Header.source, string: source),
            KafkaHeader(key: Header.type, string: type.description),
            KafkaHeader(key: Header.time, string: time.formatted(Self.timeFormat)),
            KafkaHeader(key: Header.contentType, string: dataContentType),
            KafkaHeader(key: Header.tenant, string: tenant),
            KafkaHeader(key: Header.partitionKey, string: partitionKey),
        ]
        if let subject { headers.append(KafkaHeader(key: Header.subject, string: subject)) }
        if let traceparent { headers.append(KafkaHeader(key: Header.traceparent, string: traceparent)) }
        if let signature { headers.append(KafkaHeader(key: Header.signature, string: signature)) }
        return KafkaProducerMessage(
            topic: topic,
            partition: partition,
            key: Array(partitionKey.utf8),
            value: data,
            headers: headers
        )
    }

    /// Reads a record written in binary mode. Checks the envelope only; `EventCatalog.decode` reads the data.
    public init(kafkaMessage message: KafkaConsumerMessage) throws(EventDecodingError) {
        func required(_ name: String) throws(EventDecodingError) -> String {
            guard let header = message.header(name) else { throw .missingAttribute(name) }
            guard let text = header.stringValue, !text.isEmpty else {
                throw .invalidAttribute(name, reason: "empty or not UTF-8")
            }
            // A byte below 0x20 in UTF-8 is always that control character itself.
            guard !text.utf8.contains(where: { $0 < 0x20 }) else {
                throw .invalidAttribute(name, reason: "holds a control character")
            }
            return text
        }
        func optional(_ name: String) throws(EventDecodingError) -> String? {
            guard message.header(name) != nil else { return nil }
            return try required(name)
        }
        let specVersion = try required(Header.specVersion)
        guard specVersion == Self.specVersion else {
            throw .invalidAttribute(Header.specVersion, reason: "expected 1.0, got \(specVersion.prefix(16))")
        }
        let typeText = try required(Header.type)
        guard let type = EventType(parsing: typeText) else {
            throw .invalidAttribute(Header.type, reason: "not of the form dev.sigil.<area>.<event>.v<n>")
        }
        let timeText = try required(Header.time)
        guard let time = Self.parseTime(timeText) else {
            throw .invalidAttribute(Header.time, reason: "not an RFC 3339 timestamp")
        }
        let contentType = message.header(Header.contentType)?.stringValue ?? "application/json"
        guard contentType.hasPrefix("application/json") else {
            throw .invalidAttribute(Header.contentType, reason: "only application/json data is accepted")
        }
        try self.init(
            id: required(Header.id),
            source: try required(Header.source),
            type: type,
            time: time,
            subject: try optional(Header.subject),
            tenant: try required(Header.tenant),
            partitionKey: try required(Header.partitionKey),
            traceparent: try optional(Header.traceparent),
            dataContentType: contentType,
            data: message.value,
            signature: message.header(Header.signature)?.stringValue
        )
        receivedTime = timeText
    }

    static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static func parseTime(_ text: String) -> Date? {
        if let date = try? timeFormat.parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
