import Foundation

/// Kinds of configuration resource, each owned by one service's admin API.
public enum ResourceKind: String, Codable, Sendable, CaseIterable {
    case trustProvider = "TrustProvider"
    case clientWorkload = "ClientWorkload"
    case serverWorkload = "ServerWorkload"
    case credentialProvider = "CredentialProvider"
    case accessPolicy = "AccessPolicy"
    case logStream = "LogStream"
    case adminToken = "AdminToken"
}

extension ResourceKind {
    /// Its path under an owning service's `/v1`, e.g. `trust-providers`.
    public var pathComponent: String {
        let words = rawValue.enumerated().map { index, character in
            character.isUppercase ? (index == 0 ? "" : "-") + character.lowercased() : String(character)
        }.joined()
        return words.hasSuffix("y") ? words.dropLast() + "ies" : words + "s"
    }

    /// Its table in the owning service's schema, e.g. `trust_providers`.
    public var tableName: String { pathComponent.replacingOccurrences(of: "-", with: "_") }
}

public struct TenantCreated: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.created", version: 1)
    public var displayName: String
    public init(displayName: String) { self.displayName = displayName }
}

/// A new data key for the tenant, wrapped by the key-encryption key of `sigil-issue`; never in clear.
public struct TenantKeyRotated: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.key-rotated", version: 1)
    public var keyID: String
    public var wrappedDataKey: Base64Bytes
    public init(keyID: String, wrappedDataKey: [UInt8]) {
        self.keyID = keyID
        self.wrappedDataKey = Base64Bytes(wrappedDataKey)
    }
}

/// The tenant is gone; its data keys are destroyed, which makes its encrypted history unreadable.
public struct TenantDeleted: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.deleted", version: 1)
    public init() {}
}

/// A resource was created or replaced. `spec` was validated by the owning service before this was written;
/// secret fields inside it are already encrypted.
public struct ResourceDefined: EventPayload {
    public static let eventType = EventType(area: "config", event: "resource.defined", version: 1)
    public var kind: ResourceKind
    public var name: String
    public var spec: JSONValue
    public init(kind: ResourceKind, name: String, spec: JSONValue) {
        self.kind = kind
        self.name = name
        self.spec = spec
    }
}

public struct ResourceRemoved: EventPayload {
    public static let eventType = EventType(area: "config", event: "resource.removed", version: 1)
    public var kind: ResourceKind
    public var name: String
    public init(kind: ResourceKind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// The attestation service's HPKE public key: edges seal evidence to it.
public struct AttestationKeyPublished: EventPayload {
    public static let eventType = EventType(area: "config", event: "attestation-key.published", version: 1)
    public var keyID: String
    public var publicKey: Base64Bytes
    public var ciphersuite: String
    public var notAfter: Date
    public init(keyID: String, publicKey: [UInt8], ciphersuite: String, notAfter: Date) {
        self.keyID = keyID
        self.publicKey = Base64Bytes(publicKey)
        self.ciphersuite = ciphersuite
        self.notAfter = notAfter
    }
}
