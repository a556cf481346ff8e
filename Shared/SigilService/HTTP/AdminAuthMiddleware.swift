import Hummingbird

/// Requires `Authorization: Bearer <token>` naming a known admin token, and puts its principal in the context.
/// Applied to `/v1`; health, readiness, metrics and the OpenAPI document stay open.
public struct AdminAuthMiddleware: RouterMiddleware {
    public typealias Context = AdminRequestContext
    let tokens: AdminTokenStore

    public init(tokens: AdminTokenStore) { self.tokens = tokens }

    public func handle(
        _ request: Request,
        context: AdminRequestContext,
        next: (Request, AdminRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let authorization = request.headers[.authorization] else {
            throw ProblemDetails.unauthorized("a bearer token is required")
        }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw ProblemDetails.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        guard let principal = tokens.principal(for: String(parts[1])) else {
            throw ProblemDetails.unauthorized("the bearer token is not valid")
        }
        var context = context
        context.principal = principal
        context.logger[metadataKey: "tenant"] = "\(principal.tenant)"
        return try await next(request, context)
    }
}
