import SigilEvents
import SigilService

/// One of several credentials an allow can grant, chosen by the request: `{when: {header: {name: X-Account,
/// values: [eu]}}, credentialProvider: eu-key}`. An allow's routes are tried in order; the first whose every
/// condition holds names the credential; when none does, the policy's `credentialProvider` does (or, without one,
/// the request is refused).
package struct CredentialRoute: Codable, Sendable, Equatable {
    /// Header names a route may not read: the workload's own credentials and what only hops use.
    static let unroutableHeaders: Set<String> = [
        "authorization", "proxy-authorization", "cookie", "set-cookie", "connection", "keep-alive", "te", "trailer",
        "transfer-encoding", "upgrade", "host", "content-length",
    ]

    static let schema = SpecSchema.ObjectSchema(
        "A credential chosen by the request's header, path or method.",
        [
            .init("when", .object(RouteCondition.schema), required: true, "What the request must have."),
            .init(
                "credentialProvider", SpecSchema.reference, required: true,
                "The CredentialProvider whose credential the edge injects for such a request."),
        ])

    package var when: RouteCondition
    package var credentialProvider: String

    package init(when: RouteCondition, credentialProvider: String) {
        self.when = when
        self.credentialProvider = credentialProvider
    }

    func check(at path: String) throws {
        guard when.header != nil || when.pathPrefix != nil || when.methods != nil else {
            throw ProblemDetails.invalidField(
                "\(path).when", "\(path).when needs at least one of header, pathPrefix and methods")
        }
        if let header = when.header {
            let name = header.name.lowercased()
            guard !Self.unroutableHeaders.contains(name), !name.hasPrefix("proxy-") else {
                throw ProblemDetails.invalidField(
                    "\(path).when.header.name",
                    "\(path).when.header.name cannot be \(header.name): the workload's credentials and hop-by-hop "
                        + "headers never leave the edge")
            }
        }
        if let prefix = when.pathPrefix { try PathPrefixes.check(prefix, at: "\(path).when.pathPrefix") }
    }
}

/// What a request must have for a route: a header with one of some values, a path under a prefix, one of some methods
/// (each given must hold).
package struct RouteCondition: Codable, Sendable, Equatable {
    static let schema = SpecSchema.ObjectSchema(
        "Each condition given must hold.",
        [
            .init("header", .object(HeaderMatch.schema), "A request header with one of these values."),
            .init(
                "pathPrefix", .string(maxLength: 512, pattern: PathPrefixes.pattern),
                "The request's path is under this prefix (by whole segments)."),
            .init(
                "methods", .array(of: .string(choices: HTTPMethods.all), minItems: 1, maxItems: 9),
                "The request's method is one of these."),
        ])

    package var header: HeaderMatch?
    package var pathPrefix: String?
    package var methods: [String]?

    package init(header: HeaderMatch? = nil, pathPrefix: String? = nil, methods: [String]? = nil) {
        self.header = header
        self.pathPrefix = pathPrefix
        self.methods = methods
    }

    /// Whether the request has what the route asks, and what it had (for the explanation).
    func holds(for request: RequestAttributes?) -> Bool {
        if let header {
            guard let value = request?.headers[header.name.lowercased()], header.values.contains(value) else {
                return false
            }
        }
        return RequestScope(methods: methods, pathPrefix: pathPrefix).takes(
            method: request?.method, path: request?.path)
    }
}

/// A header by name (compared without case) with one of several values (compared exactly).
package struct HeaderMatch: Codable, Sendable, Equatable {
    static let schema = SpecSchema.ObjectSchema(
        "A header and the values that select the route.",
        [
            .init(
                "name",
                .string(
                    maxLength: 64,
                    pattern: (regex: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$", meaning: "an HTTP header name")),
                required: true, "The header's name (any case)."),
            .init(
                "values", .array(of: .string(maxLength: 256), minItems: 1, maxItems: 64), required: true,
                "The values that select the route (exact match)."),
        ])

    package var name: String
    package var values: [String]

    package init(name: String, values: [String]) {
        self.name = name
        self.values = values
    }
}

/// What of a request the decisions about one server workload examine, from the policies that name it: the edge sends
/// these in the access request and keeps a credential per distinct combination (so a credential chosen for one header
/// value or address is never used for another), and nothing else.
package struct DecisionInputs: Sendable, Hashable {
    /// Lower-case header names routes read.
    package var headers: Set<String> = []
    /// Path prefixes routes read.
    package var pathPrefixes: Set<String> = []
    /// Whether routes read the method.
    package var method = false
    /// Whether conditions read the workload's address.
    package var source = false

    package init() {}

    package mutating func formUnion(_ other: DecisionInputs) {
        headers.formUnion(other.headers)
        pathPrefixes.formUnion(other.pathPrefixes)
        method = method || other.method
        source = source || other.source
    }

    package var isEmpty: Bool { headers.isEmpty && pathPrefixes.isEmpty && !method && !source }
}

extension AccessPolicySpec {
    /// What of a request this policy's decision examines.
    package var decisionInputs: DecisionInputs {
        var inputs = DecisionInputs()
        for route in credentialRoutes ?? [] {
            if let header = route.when.header { inputs.headers.insert(header.name.lowercased()) }
            if let prefix = route.when.pathPrefix { inputs.pathPrefixes.insert(prefix) }
            if route.when.methods != nil { inputs.method = true }
        }
        inputs.source = conditions?.usesSource ?? false
        return inputs
    }

    /// The credential for a request this allow grants: the first route that holds, else `credentialProvider`.
    package func credential(for request: RequestAttributes?) -> (provider: String?, route: Int?) {
        for (index, route) in (credentialRoutes ?? []).enumerated() where route.when.holds(for: request) {
            return (route.credentialProvider, index)
        }
        return (credentialProvider, nil)
    }
}
