import Foundation
import NIOCore
import NIOHTTP1
import SigilService

/// A refusal the edge answers itself: an RFC 9457 problem with a stable type, and for access refusals the stage
/// and reason code. Never carries a credential or a token.
struct ProxyProblem: Error, Equatable {
    var document: ProblemDetails

    init(status: HTTPResponseStatus, slug: String, detail: String) {
        document = ProblemDetails(
            status: .init(code: Int(status.code)), slug: slug, title: status.reasonPhrase, detail: detail)
    }

    static func badRequest(_ slug: String, _ detail: String) -> ProxyProblem {
        ProxyProblem(status: .badRequest, slug: slug, detail: detail)
    }

    /// A path Sigil and the upstream could read differently (`/public/../admin`, `%2F`), where the path decides.
    static let ambiguousPath = badRequest(
        "ambiguous-path",
        "the path has a `.` or `..` segment, an encoded `/`, `\\`, `.` or `%`, or a control character; this server "
            + "workload's access is decided by path, so send the path in its plain form")

    /// 403 for a refusal by the control plane or the edge's own checks, 503 when it could not answer in time.
    init(refusal: EdgeRefusal) {
        let refused = refusal.kind == .refused
        document = ProblemDetails(
            status: refused ? .forbidden : .serviceUnavailable,
            slug: refused ? "access-refused" : "control-plane-unavailable",
            title: refused ? "Access refused" : "Control plane unavailable",
            detail: "\(refusal.stage): \(refusal.code): \(refusal.detail)")
        document.stage = refusal.stage
        document.reason = refusal.code
    }

    var status: HTTPResponseStatus { HTTPResponseStatus(statusCode: document.statusCode) }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The response head and body, for a client speaking `version`.
    func response(
        version: HTTPVersion, keepAlive: Bool, allocator: ByteBufferAllocator
    ) -> (
        HTTPResponseHead, ByteBuffer
    ) {
        let body = (try? Self.encoder.encode(document)) ?? Data("{}".utf8)
        var headers = HTTPHeaders([
            ("content-type", ProblemDetails.mediaType), ("content-length", String(body.count)),
            ("via", ForwardedHeaders.via),
        ])
        if !keepAlive { headers.add(name: "connection", value: "close") }
        return (
            HTTPResponseHead(version: version, status: status, headers: headers),
            allocator.buffer(bytes: body)
        )
    }

    /// The whole response as bytes on the wire (`Connection: close`).
    func serialized(version: HTTPVersion, allocator: ByteBufferAllocator) -> ByteBuffer {
        var (head, body) = response(version: version, keepAlive: false, allocator: allocator)
        var buffer = allocator.buffer(capacity: 256 + body.readableBytes)
        buffer.writeString("HTTP/\(version.major).\(version.minor) \(head.status.code) \(head.status.reasonPhrase)\r\n")
        for (name, value) in head.headers { buffer.writeString("\(name): \(value)\r\n") }
        buffer.writeString("\r\n")
        buffer.writeBuffer(&body)
        return buffer
    }

    static func == (lhs: ProxyProblem, rhs: ProxyProblem) -> Bool {
        lhs.document.type == rhs.document.type && lhs.document.statusCode == rhs.document.statusCode
            && lhs.document.detail == rhs.document.detail
    }
}
