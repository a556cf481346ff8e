import Hummingbird

extension RouterMethods {
    /// Answers every method `path` does not serve with 405 and the `Allow` header (instead of a 404 that would say
    /// the path does not exist).
    @discardableResult
    public func refuseOtherMethods(_ path: RouterPath, allowed: [HTTPRequest.Method]) -> Self {
        let others: [HTTPRequest.Method] = [
            .get, .head, .put, .post, .delete, .patch, .options, .trace, HTTPRequest.Method("QUERY")!,
        ]
        let allowedNames = allowed.map(\.rawValue)
        for method in others where !allowed.contains(method) {
            on(path, method: method) { request, _ -> Response in
                throw ProblemDetails.methodNotAllowed(
                    request.method.rawValue, path: request.uri.path, allowed: allowedNames)
            }
        }
        return self
    }
}
