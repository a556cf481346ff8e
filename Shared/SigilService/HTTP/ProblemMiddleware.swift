import Hummingbird
import Logging

/// Turns every error into a problem document: Sigil's own refusals as they are, Hummingbird's HTTP errors (unknown
/// route, body too large, undecodable body) with their status, anything else into a 500 that says nothing about its
/// cause (which is logged in full here instead).
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as ProblemDetails {
            throw problem
        } catch let error as HTTPResponseError {
            let status = error.status
            if status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
                throw ProblemDetails.internalError()
            }
            throw ProblemDetails(
                status: status,
                slug: status == .notFound ? "not-found" : "http-\(status.code)",
                title: status.reasonPhrase,
                detail: status == .notFound
                    ? "no such route: \(request.method) \(request.uri.path)" : status.reasonPhrase
            )
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
            throw ProblemDetails.internalError()
        }
    }
}
