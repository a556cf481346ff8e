import Foundation

/// An administrator created a join token (never the token itself: its id, provider, name and expiry).
public struct JoinTokenCreated: EventPayload {
    public static let eventType = EventType(area: "attest", event: "join-token-created", version: 1)
    public var tokenID: String
    public var trustProvider: String
    public var name: String
    public var expiresAt: Date
    public var createdBy: String

    public init(tokenID: String, trustProvider: String, name: String, expiresAt: Date, createdBy: String) {
        self.tokenID = tokenID
        self.trustProvider = trustProvider
        self.name = name
        self.expiresAt = expiresAt
        self.createdBy = createdBy
    }
}

/// An administrator revoked a join token before it was used.
public struct JoinTokenRevoked: EventPayload {
    public static let eventType = EventType(area: "attest", event: "join-token-revoked", version: 1)
    public var tokenID: String
    public var revokedBy: String

    public init(tokenID: String, revokedBy: String) {
        self.tokenID = tokenID
        self.revokedBy = revokedBy
    }
}
