import Hummingbird
import HummingbirdAuth

/// hummingbird-auth's authenticator for `/v1`: requires `Authorization: Bearer <token>` naming a known admin token
/// and makes its principal the request's identity. Unlike an optional authenticator it refuses at once (401, with
/// the reason), since nothing under `/v1` is open. Health, readiness, metrics and the OpenAPI document stay open.
public struct AdminAuthMiddleware: AuthenticatorMiddleware {
    public typealias Context = AdminRequestContext
    public typealias Identity = AdminPrincipal
    let tokens: AdminTokenStore

    public init(tokens: AdminTokenStore) { self.tokens = tokens }

    public func authenticate(request: Request, context: AdminRequestContext) async throws -> AdminPrincipal? {
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
        return principal
    }

    public func handle(
        _ request: Request, context: AdminRequestContext,
        next: (Request, AdminRequestContext) async throws -> Response
    ) async throws -> Response {
        var context = context
        context.identity = try await authenticate(request: request, context: context)
        context.logger[metadataKey: "tenant"] = "\(context.identity?.tenant ?? "-")"
        return try await next(request, context)
    }
}
