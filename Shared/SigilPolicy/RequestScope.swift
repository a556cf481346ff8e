import SigilEvents
import SigilService

/// The HTTP methods a server workload or a credential route can name.
enum HTTPMethods {
    static let all = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
}

/// Path prefixes in resources: a canonical absolute path (no `.`/`..` segment, no encoded `/`, `\`, `.` or `%`).
enum PathPrefixes {
    static let pattern = (regex: "^/[^?#\\s]*$", meaning: "an absolute path without query or fragment (`/v1/admin`)")

    static func check(_ prefix: String, at field: String) throws {
        guard PathPrefix.isCanonical(prefix) else {
            throw ProblemDetails.invalidField(
                field, "\(field) must be a canonical path: no `.` or `..` segments, no encoded `/`, `\\`, `.` or `%`")
        }
    }
}

/// Which requests to one host and port a server workload takes: those with one of `methods` (any, when nil) whose
/// path is under `pathPrefix` (any, when nil). Of several that take a request, the most specific is its server
/// workload: the longest path prefix first, then one that names methods; the edge and the policy service pick alike.
package struct RequestScope: Sendable, Hashable {
    package let methods: [String]?
    package let pathPrefix: String?

    package init(methods: [String]?, pathPrefix: String?) {
        self.methods = methods
        self.pathPrefix = pathPrefix
    }

    /// Whether the request falls in the scope. Without the request's method and path (an edge from before request
    /// attributes), only a scope that names neither takes it.
    package func takes(method: String?, path: String?) -> Bool {
        if let methods {
            guard let method, methods.contains(method) else { return false }
        }
        if let pathPrefix {
            guard let path, PathPrefix.isCanonical(path), PathPrefix.covers(pathPrefix, path) else { return false }
        }
        return true
    }

    /// Orders the most specific first.
    package static func moreSpecific(_ left: RequestScope, _ right: RequestScope) -> Bool {
        let (l, r) = (left.pathPrefix?.utf8.count ?? -1, right.pathPrefix?.utf8.count ?? -1)
        if l != r { return l > r }
        return (left.methods?.count ?? Int.max) < (right.methods?.count ?? Int.max)
    }

    /// The first of `candidates` (ordered by `moreSpecific`) that takes the request.
    package static func pick<Candidate>(
        _ candidates: [Candidate], scope: (Candidate) -> RequestScope, method: String?, path: String?
    ) -> Candidate? {
        candidates.first { scope($0).takes(method: method, path: path) }
    }
}
