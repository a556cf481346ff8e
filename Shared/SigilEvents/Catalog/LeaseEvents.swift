import Foundation

/// sigil-issue created a database role for a workload (`postgres-dynamic`): the lease, the role's name (never its
/// password), who holds it and until when. Written before the role is created, so a crash in between leaves a lease
/// to revoke, not a role nobody knows of.
public struct LeaseGranted: EventPayload {
    public static let eventType = EventType(area: "issue", event: "lease-granted", version: 1)
    public var leaseID: String
    public var requestID: String
    public var credentialProvider: String
    public var clientWorkload: String
    public var serverWorkload: String
    public var accessPolicy: String
    public var edgeID: String
    /// The database role the lease is (`sigil_` and the lease id).
    public var role: String
    /// The database: host, port and name.
    public var database: String
    public var expiresAt: Date

    public init(
        leaseID: String, requestID: String, credentialProvider: String, clientWorkload: String,
        serverWorkload: String, accessPolicy: String, edgeID: String, role: String, database: String, expiresAt: Date
    ) {
        self.leaseID = leaseID
        self.requestID = requestID
        self.credentialProvider = credentialProvider
        self.clientWorkload = clientWorkload
        self.serverWorkload = serverWorkload
        self.accessPolicy = accessPolicy
        self.edgeID = edgeID
        self.role = role
        self.database = database
        self.expiresAt = expiresAt
    }
}

/// The edge still uses the lease: its role's password was replaced and its validity extended.
public struct LeaseRenewed: EventPayload {
    public static let eventType = EventType(area: "issue", event: "lease-renewed", version: 1)
    public var leaseID: String
    public var requestID: String
    public var expiresAt: Date

    public init(leaseID: String, requestID: String, expiresAt: Date) {
        self.leaseID = leaseID
        self.requestID = requestID
        self.expiresAt = expiresAt
    }
}

/// The lease ended: its role can no longer log in, its sessions were terminated, its objects reassigned, the role
/// dropped.
public struct LeaseRevoked: EventPayload {
    public static let eventType = EventType(area: "issue", event: "lease-revoked", version: 1)
    public var leaseID: String
    public var role: String
    /// `expired`, `revoked` (by an administrator: `revokedBy`), `provider-changed`, `access-withdrawn` (released by
    /// its edge: `revokedBy` names the edge and the refusal), `orphaned`.
    public var reason: String
    public var revokedBy: String?
    /// How many of the role's sessions were open and ended.
    public var sessionsTerminated: Int

    public init(leaseID: String, role: String, reason: String, revokedBy: String? = nil, sessionsTerminated: Int) {
        self.leaseID = leaseID
        self.role = role
        self.reason = reason
        self.revokedBy = revokedBy
        self.sessionsTerminated = sessionsTerminated
    }
}

/// The edge asks for its lease to end now: access it relied on was withdrawn (an access policy or workload changed or
/// went, a posture report fell short), and asking again for the sessions that still use the lease was refused. The
/// issuance service revokes the lease if this edge holds it: the role's sessions are terminated within seconds, not
/// at the lease's expiry. An edge can only end access this way, never extend it.
public struct LeaseReleased: EventPayload {
    public static let eventType = EventType(area: "edge", event: "lease-released", version: 1)
    public var leaseID: String
    public var edgeID: String
    /// The refusal that withdrew the access (`no-matching-policy`, `posture-failed`, ...) and its words.
    public var reason: String
    public var detail: String

    public init(leaseID: String, edgeID: String, reason: String, detail: String) {
        self.leaseID = leaseID
        self.edgeID = edgeID
        self.reason = reason
        self.detail = detail
    }
}
