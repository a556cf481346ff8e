import Foundation

/// Kinds of configuration resource, each owned by one service's admin API.
public enum ResourceKind: String, Codable, Sendable, CaseIterable {
    case trustProvider = "TrustProvider"
    case clientWorkload = "ClientWorkload"
    case serverWorkload = "ServerWorkload"
    case credentialProvider = "CredentialProvider"
    case accessPolicy = "AccessPolicy"
    case postureFeed = "PostureFeed"
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

/// An RSA signing key sigil-issue generated for the tenant and a signing period (RS256 keys cannot be derived from the
/// data key as the others are): its public key (DER SubjectPublicKeyInfo) and its private key (PKCS#1 DER) encrypted
/// with the tenant's data key (`v1:<data key>:…`), so destroying the data key destroys it too.
public struct TenantSigningKeyCreated: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.signing-key-created", version: 1)
    public var kid: String
    public var algorithm: String
    public var period: Int64
    public var publicKey: Base64Bytes
    public var privateKeyEncrypted: String

    public init(kid: String, algorithm: String, period: Int64, publicKey: [UInt8], privateKeyEncrypted: String) {
        self.kid = kid
        self.algorithm = algorithm
        self.period = period
        self.publicKey = Base64Bytes(publicKey)
        self.privateKeyEncrypted = privateKeyEncrypted
    }
}

/// One of the tenant's data keys is destroyed (crypto-shredding): written under the same key as the `TenantKeyRotated`
/// that carried it, so compaction of `sigil.config` drops the wrapped key for good and keeps only this marker.
public struct TenantKeyDestroyed: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.key-destroyed", version: 1)
    public var keyID: String
    public init(keyID: String) { self.keyID = keyID }
}

/// The tenant is gone; its data keys are destroyed, which makes its encrypted history unreadable.
public struct TenantDeleted: EventPayload {
    public static let eventType = EventType(area: "config", event: "tenant.deleted", version: 1)
    public init() {}
}

/// A resource was created or replaced. `spec` was admitted by the owning service before this was written (decoded
/// into its kind's type, validated, references checked); secret fields inside it are already encrypted.
///
/// Every consumer applies the same rule (`ResourceCatalog.apply`): the event takes effect only if the resource's
/// current version is `previousResourceVersion` (nil: it did not exist). A write that lost a race with another
/// replica's write is thus ignored by everyone alike, and the writer answers 409.
public struct ResourceDefined: EventPayload {
    public static let eventType = EventType(area: "config", event: "resource.defined", version: 2)
    public var kind: ResourceKind
    public var metadata: ResourceMetadata
    public var spec: JSONValue
    public var previousResourceVersion: String?
    /// The resources this one names, so that every service can refuse deleting a resource still in use.
    public var references: [ResourceReference]
    /// SHA-256 of the stored spec's canonical JSON: what the audit shows of a change (never the spec's secrets).
    public var specDigest: String
    public var changedBy: ResourceActor

    public init(
        kind: ResourceKind, metadata: ResourceMetadata, spec: JSONValue, previousResourceVersion: String?,
        references: [ResourceReference], specDigest: String, changedBy: ResourceActor
    ) {
        self.kind = kind
        self.metadata = metadata
        self.spec = spec
        self.previousResourceVersion = previousResourceVersion
        self.references = references
        self.specDigest = specDigest
        self.changedBy = changedBy
    }

    public var name: String { metadata.name }
}

/// A resource was deleted; takes effect only if its current version is `resourceVersion`.
public struct ResourceRemoved: EventPayload {
    public static let eventType = EventType(area: "config", event: "resource.removed", version: 2)
    public var kind: ResourceKind
    public var name: String
    public var resourceVersion: String
    public var changedBy: ResourceActor

    public init(kind: ResourceKind, name: String, resourceVersion: String, changedBy: ResourceActor) {
        self.kind = kind
        self.name = name
        self.resourceVersion = resourceVersion
        self.changedBy = changedBy
    }
}

/// An attestation service's HPKE public key: edges seal evidence to it between `notBefore` and `notAfter` (keys
/// rotate; validity windows overlap).
public struct AttestationKeyPublished: EventPayload {
    public static let eventType = EventType(area: "config", event: "attestation-key.published", version: 1)
    /// Keys are not tenant-scoped; their events carry this tenant.
    public static let tenant = "_system"
    public var keyID: String
    public var publicKey: Base64Bytes
    public var ciphersuite: String
    public var notAfter: Date
    /// Absent: valid from when it was published.
    public var notBefore: Date?
    public init(keyID: String, publicKey: [UInt8], ciphersuite: String, notAfter: Date, notBefore: Date? = nil) {
        self.keyID = keyID
        self.publicKey = Base64Bytes(publicKey)
        self.ciphersuite = ciphersuite
        self.notAfter = notAfter
        self.notBefore = notBefore
    }
}
