import Foundation
import Hummingbird
import SigilEvents

extension Request {
    /// A small JSON body of an operation (not a resource document), checked against its schema like a resource's
    /// spec and decoded: 413 above `limit` bytes, 400 when it is not JSON, 422 naming the field at fault.
    public func admittedBody<Body: Decodable>(
        _ schema: SpecSchema.ObjectSchema, as type: Body.Type, limit: Int, what: String
    ) async throws -> Body {
        let bytes: ByteBuffer
        do {
            bytes = try await body.collect(upTo: limit)
        } catch {
            throw ProblemDetails(
                status: .contentTooLarge, slug: "document-too-large", title: "Document too large",
                detail: "\(what) is at most \(limit / 1024) KiB")
        }
        guard let json = try? EventJSON.decoder.decode(JSONValue.self, from: Data(buffer: bytes)) else {
            let fields = schema.properties.map { "\"\($0.name)\": ..." }.joined(separator: ", ")
            throw ProblemDetails(
                status: .badRequest, slug: "malformed-body", title: "Malformed body",
                detail: "the body is not JSON: {\(fields)}")
        }
        return try SpecSchema.object(schema).admit(json, at: "").decode(Body.self)
    }
}
