/// The event types a consumer can read, by full type name. Decoding checks the type, then the version, then the
/// data, and says precisely which failed.
public struct EventCatalog: Sendable {
    private let types: [EventType: any EventPayload.Type]
    private let versions: [String: [Int]]

    public init(_ types: [any EventPayload.Type]) {
        var byType: [EventType: any EventPayload.Type] = [:]
        var versions: [String: [Int]] = [:]
        for type in types {
            precondition(byType[type.eventType] == nil, "\(type.eventType) registered twice")
            byType[type.eventType] = type
            versions[type.eventType.unversioned, default: []].append(type.eventType.version)
        }
        self.types = byType
        self.versions = versions.mapValues { $0.sorted() }
    }

    /// Every event Sigil writes.
    public static let sigil = EventCatalog([
        TenantCreated.self, TenantKeyRotated.self, TenantKeyDestroyed.self, TenantSigningKeyCreated.self,
        TenantDeleted.self,
        ResourceDefined.self, ResourceRemoved.self, AttestationKeyPublished.self,
        AccessRequested.self, IdentityAttested.self, AttestationFailed.self,
        AccessGranted.self, AccessDenied.self, CredentialIssued.self, AccessRefused.self,
        EdgeStarted.self, EdgeStopped.self, RequestProxied.self, RequestsSummarized.self,
        PostureReported.self, EventDeadLettered.self, AuditCheckpointed.self,
        JoinTokenCreated.self, JoinTokenRevoked.self, LeaseGranted.self, LeaseRenewed.self, LeaseRevoked.self,
        LeaseReleased.self,
    ])

    public func knows(_ type: EventType) -> Bool { types[type] != nil }

    /// The payload of an event, typed.
    public func decode(_ event: CloudEvent) throws(EventDecodingError) -> any EventPayload {
        guard let payloadType = types[event.type] else {
            if let supported = versions[event.type.unversioned] {
                throw .unsupportedVersion(event.type.description, supported: supported)
            }
            throw .unknownType(event.type.description)
        }
        return try Self.decode(payloadType, from: event)
    }

    /// The payload as the type the caller expects.
    public func decode<Payload: EventPayload>(
        _ type: Payload.Type,
        from event: CloudEvent
    ) throws(EventDecodingError) -> Payload {
        guard event.type == Payload.eventType else {
            throw .invalidAttribute("ce_type", reason: "expected \(Payload.eventType), got \(event.type)")
        }
        return try Self.decode(type, from: event)
    }

    private static func decode<Payload: EventPayload>(
        _ type: Payload.Type,
        from event: CloudEvent
    ) throws(EventDecodingError) -> Payload {
        // PostgreSQL cannot store a NUL in text or jsonb: refused here, so no consumer ever meets one.
        if Self.containsNUL(event.data) {
            throw .invalidData(event.type.description, reason: "a string holds a NUL character")
        }
        do {
            return try EventJSON.decoder.decode(type, from: .init(event.data))
        } catch let error as DecodingError {
            throw .invalidData(event.type.description, reason: Self.describe(error))
        } catch {
            throw .invalidData(event.type.description, reason: "not JSON")
        }
    }

    /// A raw NUL byte, or the JSON escape `\u0000` (not itself escaped: an even run of backslashes before it).
    static func containsNUL(_ data: [UInt8]) -> Bool {
        let escape: [UInt8] = Array("u0000".utf8)
        var index = data.startIndex
        while index < data.endIndex {
            let byte = data[index]
            if byte == 0 { return true }
            if byte == UInt8(ascii: "\\") {
                // An escape: skip it whole; a NUL escape is refused.
                guard index + 1 < data.endIndex else { return false }
                if data[index + 1] == UInt8(ascii: "u"), index + 5 < data.endIndex,
                    Array(data[(index + 1)...(index + 5)]) == escape
                {
                    return true
                }
                index += 2
                continue
            }
            index += 1
        }
        return false
    }

    /// Names the failing field without quoting the data (which may be anything).
    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return path.isEmpty ? "(root)" : path
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "missing field \(parent == "(root)" ? key.stringValue : parent + "." + key.stringValue)"
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "wrong type at \(path(context))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(path(context))"
        @unknown default:
            return "undecodable"
        }
    }
}
