/// The service roles that produce events; each holds its own signing key.
public enum ServiceRole: String, Codable, Sendable, CaseIterable {
    case attest, policy, issue, audit, edge
}

extension ResourceKind {
    /// The service that owns (admits and publishes) this kind.
    public var owner: ServiceRole {
        switch self {
        case .trustProvider, .clientWorkload: .attest
        case .serverWorkload, .accessPolicy, .postureFeed: .policy
        case .credentialProvider, .adminToken: .issue
        case .logStream: .audit
        }
    }
}

/// Which roles may produce which events: a consumer acts on an event only if it was signed by one of them.
public enum EventAuthority {
    public static func allowedRoles(for payload: any EventPayload) -> Set<ServiceRole> {
        switch payload {
        // The busiest first (an edge's report of every request it proxied): each case is a dynamic cast.
        case is RequestProxied, is RequestsSummarized, is AccessRequested, is EdgeStarted, is EdgeStopped,
            is LeaseReleased:
            [.edge]
        case let defined as ResourceDefined: [defined.kind.owner]
        case let removed as ResourceRemoved: [removed.kind.owner]
        case is AttestationKeyPublished, is IdentityAttested, is AttestationFailed, is JoinTokenCreated,
            is JoinTokenRevoked:
            [.attest]
        case is AccessGranted, is AccessDenied, is PostureReported: [.policy]
        case is CredentialIssued, is TenantKeyRotated, is TenantKeyDestroyed, is TenantSigningKeyCreated,
            is TenantCreated, is TenantDeleted, is LeaseGranted, is LeaseRenewed, is LeaseRevoked:
            [.issue]
        case is AccessRefused: [.attest, .policy, .issue]
        case is AuditCheckpointed: [.audit]
        case is EventDeadLettered: Set(ServiceRole.allCases)
        default: []
        }
    }
}
