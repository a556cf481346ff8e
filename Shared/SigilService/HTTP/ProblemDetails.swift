import Foundation
import Hummingbird

/// An RFC 9457 problem document (`application/problem+json`): a stable `type` per kind of refusal, a human
/// `detail` that never carries a secret, and for invalid documents the `field` at fault.
public struct ProblemDetails: HTTPResponseError, Sendable, Codable, CustomStringConvertible {
    public static let mediaType = "application/problem+json"

    public var type: String
    public var title: String
    public var statusCode: Int
    public var detail: String
    public var field: String?
    /// For access refusals: the stage that refused (`attestation`, `policy`, `issuance`, `edge`) and its reason code.
    public var stage: String?
    public var reason: String?
    /// For 405: the methods the path does allow (the `Allow` header; not in the body).
    public var allow: String?

    public var status: HTTPResponse.Status { .init(code: statusCode) }

    public init(status: HTTPResponse.Status, slug: String, title: String, detail: String, field: String? = nil) {
        self.type = "urn:sigil:problem:\(slug)"
        self.title = title
        self.statusCode = status.code
        self.detail = detail
        self.field = field
    }

    enum CodingKeys: String, CodingKey {
        case type, title, detail, field, stage, reason
        case statusCode = "status"
    }

    public var description: String { "\(statusCode) \(type): \(detail)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        try response()
    }

    /// The problem as a response, for code that answers outside a router's error handling (the edge proxy).
    public func response() throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var headers: HTTPFields = [.contentType: Self.mediaType]
        if statusCode == 401 { headers[.wwwAuthenticate] = "Bearer realm=\"sigil\"" }
        if let allow { headers[.allow] = allow }
        return Response(
            status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(self))))
    }

    public static func unauthorized(_ detail: String) -> ProblemDetails {
        ProblemDetails(status: .unauthorized, slug: "unauthorized", title: "Authentication required", detail: detail)
    }

    public static func forbidden(_ detail: String) -> ProblemDetails {
        ProblemDetails(status: .forbidden, slug: "forbidden", title: "Not allowed", detail: detail)
    }

    public static func notFound(_ detail: String) -> ProblemDetails {
        ProblemDetails(status: .notFound, slug: "not-found", title: "Not found", detail: detail)
    }

    public static func invalidField(_ field: String, _ detail: String) -> ProblemDetails {
        ProblemDetails(
            status: .unprocessableContent, slug: "invalid-document", title: "Invalid document", detail: detail,
            field: field)
    }

    /// 409: the write conflicts with what exists (a stale version, a duplicate, a resource still in use).
    public static func conflict(_ slug: String, _ detail: String, field: String? = nil) -> ProblemDetails {
        ProblemDetails(status: .conflict, slug: slug, title: "Conflict", detail: detail, field: field)
    }

    public static func methodNotAllowed(_ method: String, path: String, allowed: [String]) -> ProblemDetails {
        var problem = ProblemDetails(
            status: .methodNotAllowed, slug: "method-not-allowed", title: "Method not allowed",
            detail: "\(path) does not answer \(method); it answers \(allowed.joined(separator: ", "))")
        problem.allow = allowed.joined(separator: ", ")
        return problem
    }

    public static func internalError() -> ProblemDetails {
        ProblemDetails(
            status: .internalServerError,
            slug: "internal",
            title: "Internal error",
            detail: "the service could not complete the request; see its logs"
        )
    }
}
