import Foundation

/// The data of one versioned event type. Each conforming type is registered in `EventCatalog.sigil`.
public protocol EventPayload: Codable, Sendable, Equatable {
    static var eventType: EventType { get }
}

extension EventPayload {
    /// Wraps the payload in a CloudEvent with JSON data.
    public func cloudEvent(
        source: EventSource,
        tenant: String,
        partitionKey: String,
        subject: String? = nil,
        traceparent: String? = nil,
        time: Date = Date(),
        id: String = UUIDv7.generate()
    ) throws -> CloudEvent {
        CloudEvent(
            id: id,
            source: source.description,
            type: Self.eventType,
            time: time,
            subject: subject,
            tenant: tenant,
            partitionKey: partitionKey,
            traceparent: traceparent,
            data: Array(try EventJSON.encoder.encode(self))
        )
    }
}

/// JSON settings shared by every payload: sorted keys (stable bytes for hashing) and RFC 3339 dates.
public enum EventJSON {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return decoder
    }()
}

/// Bytes carried in JSON as base64 (sealed evidence, wrapped keys, public keys).
public struct Base64Bytes: Codable, Sendable, Hashable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let data = Data(base64Encoded: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not base64"))
        }
        bytes = Array(data)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Data(bytes).base64EncodedString())
    }
}

/// A message sealed with HPKE to a recipient's public key (RFC 9180): only the holder of the private key for
/// `recipientKeyID` can open it. Nothing on the bus is replayable without that key.
public struct SealedData: Codable, Sendable, Hashable {
    /// Which of the recipient's keys it was sealed to (keys rotate).
    public var recipientKeyID: String
    /// The HPKE encapsulated key.
    public var encapsulatedKey: Base64Bytes
    public var ciphertext: Base64Bytes

    public init(recipientKeyID: String, encapsulatedKey: [UInt8], ciphertext: [UInt8]) {
        self.recipientKeyID = recipientKeyID
        self.encapsulatedKey = Base64Bytes(encapsulatedKey)
        self.ciphertext = Base64Bytes(ciphertext)
    }
}
