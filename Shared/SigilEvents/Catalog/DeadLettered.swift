import SigilKafka

/// A record some consumer could not process, with the error and everything needed to look at it again: the
/// original headers, key and value (base64), and where it was read from.
public struct EventDeadLettered: EventPayload {
    public static let eventType = EventType(area: "deadletter", event: "event-rejected", version: 1)
    /// Records larger than this keep only their first bytes here.
    public static let maximumValueBytes = 65_536

    public var consumer: String
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var errorCode: String
    public var errorDetail: String
    public var headers: [String: String]
    public var key: Base64Bytes?
    public var value: Base64Bytes
    public var valueTruncated: Bool

    public init(consumer: String, message: KafkaConsumerMessage, errorCode: String, errorDetail: String) {
        self.consumer = consumer
        self.topic = message.topic
        self.partition = message.partition
        self.offset = message.offset
        self.errorCode = errorCode
        self.errorDetail = errorDetail
        var headers: [String: String] = [:]
        // Header text as it was, but never a control character (a NUL would make this dead letter a poison event
        // in turn): each becomes U+FFFD.
        for header in message.headers where headers[Self.printable(header.key)] == nil {
            headers[Self.printable(header.key)] = header.stringValue.map(Self.printable) ?? "(binary)"
        }
        self.headers = headers
        self.key = message.key.map(Base64Bytes.init)
        self.value = Base64Bytes(Array(message.value.prefix(Self.maximumValueBytes)))
        self.valueTruncated = message.value.count > Self.maximumValueBytes
    }

    static func printable(_ text: String) -> String {
        String(
            String.UnicodeScalarView(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "\u{FFFD}" : $0 }))
    }
}
