import Foundation
import Hummingbird
import SigilEvents

/// A page of `GET /v1/<kind>`, paged as Kubernetes lists are: `limit` (1–1000; every resource when absent) and
/// `continue`, the token the previous page's `metadata.continue` gave. Resources come by name, so a page follows on
/// from the last name of the one before: a resource created or deleted between two pages is listed or not by where its
/// name falls, and nothing else moves.
struct ResourceListPage: Sendable, Equatable {
    static let maximumLimit = 1_000

    /// List the names after this one.
    var after: String?
    /// At most this many; all when nil.
    var limit: Int?

    init(after: String? = nil, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }

    init(_ request: Request) throws {
        let query = request.uri.queryParameters
        func single(_ name: String) throws -> String? {
            let values = query.getAll(name)
            guard values.count <= 1 else { throw ProblemDetails.invalidField(name, "\(name) is given more than once") }
            return values.first
        }
        if let value = try single("limit") {
            guard value.utf8.count <= 8, value.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let limit = Int(value),
                (1...Self.maximumLimit).contains(limit)
            else {
                throw ProblemDetails.invalidField("limit", "limit must be an integer from 1 to \(Self.maximumLimit)")
            }
            self.limit = limit
        }
        if let token = try single("continue") {
            guard let name = Self.name(in: token) else {
                throw ProblemDetails.invalidField("continue", "continue must be a metadata.continue this API returned")
            }
            after = name
        }
    }

    /// The token for the page after `name`: its name, base64url without padding (opaque to clients).
    static func token(after name: String) -> String {
        Data(name.utf8).base64URLEncodedString
    }

    /// The name in a token this API gave; nil for anything else.
    private static func name(in token: String) -> String? {
        guard token.utf8.count <= 100 else { return nil }
        guard let data = Data(base64URLEncoded: token), let name = String(data: data, encoding: .utf8),
            (try? ResourceController.validName(name)) != nil
        else { return nil }
        return name
    }

    static let openAPIParameters: [JSONValue] = [
        APIOperation.query(
            "limit", ["type": "integer", "minimum": 1, "maximum": .number(Double(maximumLimit))],
            "At most this many resources (every one when absent); `metadata.continue` then names the next page."),
        APIOperation.query(
            "continue", ["type": "string", "maxLength": 100],
            "The `metadata.continue` of the previous page: list the resources after it."),
    ]
}
