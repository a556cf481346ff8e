/// What an admin API caller may do, and in which tenant.
public enum AdminRole: String, Sendable, Codable, CaseIterable {
    /// Reads and changes configuration.
    case admin
    /// Reads configuration and the audit log; changes nothing.
    case auditor
    /// An edge's own credential: reads that edge's status; nothing on any admin API.
    case edge
}

/// The authenticated caller of an admin API: a token bound to one tenant and one role.
public struct AdminPrincipal: Sendable, Hashable, Codable {
    public let tenant: String
    public let role: AdminRole
    /// A non-secret name for the token in logs and audit (e.g. `bootstrap-admin`).
    public let tokenName: String

    public init(tenant: String, role: AdminRole, tokenName: String) {
        self.tenant = tenant
        self.role = role
        self.tokenName = tokenName
    }
}
