import Hummingbird
import HummingbirdAuth

/// The request context of every Sigil HTTP server: carries the authenticated admin principal (hummingbird-auth's
/// identity), if any.
public struct AdminRequestContext: AuthRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: AdminPrincipal?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.identity = nil
    }

    /// The caller, who must hold one of `roles` (by default an admin or auditor: an edge's credential opens only
    /// what names it); otherwise a 403 problem (401 if unauthenticated).
    public func requirePrincipal(_ roles: Set<AdminRole> = [.admin, .auditor]) throws -> AdminPrincipal {
        guard let principal = identity else { throw ProblemDetails.unauthorized("a bearer token is required") }
        guard roles.contains(principal.role) else {
            throw ProblemDetails.forbidden(
                "role \(principal.role.rawValue) may not do this; needs \(roles.map(\.rawValue).sorted().joined(separator: " or "))"
            )
        }
        return principal
    }
}
