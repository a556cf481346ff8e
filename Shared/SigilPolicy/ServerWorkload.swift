import NIOSSL
import SigilEvents
import SigilService

/// A server workload: an API at scheme://host:port that client workloads get credentials for, optionally only some of
/// its methods and paths (so one host can be several server workloads: `/v1/payments` and `/v1/admin` with their own
/// policies).
package struct ServerWorkloadSpec: ResourceSpec {
    package enum Scheme: String, Codable, Sendable {
        case http, https, postgres
    }

    /// How the edge reaches a `postgres` server workload (libpq's `sslmode`, the two settings worth having).
    package enum SSLMode: String, Codable, Sendable, CaseIterable {
        /// TLS with the server's certificate chain and name verified (`ca`, `serverName`).
        case verifyFull = "verify-full"
        /// Plain TCP: only for a database on the same host or a network the user trusts.
        case disable
    }

    package static let kind = ResourceKind.serverWorkload
    package static let summary =
        "An API or database that client workloads reach through an edge, at one scheme, host and port."
    package static let schema = SpecSchema.object(
        summary,
        [
            .init(
                "scheme", .string(choices: ["http", "https", "postgres"]), default: "https",
                "How the edge reaches it: https is TLS the edge originates (the workload sends plain HTTP to the edge), "
                    + "the upstream's certificate and name verified; postgres is a PostgreSQL database the workload "
                    + "reaches at the edge's `listenPort` with no password."),
            .init(
                "host",
                .string(
                    maxLength: 253,
                    pattern: (
                        regex:
                            "^((\\*\\.)?[A-Za-z0-9]([-A-Za-z0-9.]{0,249}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45})$",
                        meaning: "a host name or an IP address (or `*.` and a domain: any host under it)"
                    )), required: true,
                "Host name, or `*.payments.internal` for any host under a domain (an exact host's server workload "
                    + "wins over a wildcard, a longer wildcard over a shorter), or IP address; compared without case."),
            .init("port", .integer(minimum: 1, maximum: 65_535), required: true, "TCP port."),
            .init(
                "methods", .array(of: .string(choices: HTTPMethods.all), minItems: 1, maxItems: 9),
                "Only requests with these methods (default: every method)."),
            .init(
                "pathPrefix", .string(maxLength: 512, pattern: PathPrefixes.pattern),
                "Only requests whose path is under this prefix, by whole segments (`/v1/admin` covers "
                    + "`/v1/admin/users`, not `/v1/administrator`). Of the server workloads at one host and port, the "
                    + "one with the longest prefix covering the path is the request's, then one that names methods."),
            .init(
                "ca", .pem,
                "PEM certificate authorities the upstream's certificate must chain to (https, postgres with "
                    + "verify-full; default: the system's)."),
            .init(
                "serverName",
                .string(
                    maxLength: 253, pattern: (regex: "^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$", meaning: "a DNS name")
                ),
                "The name sent (SNI) and verified in the upstream's certificate (https, postgres with verify-full; "
                    + "default: host)."),
            .init(
                "listenPort", .integer(minimum: 1_024, maximum: 65_535),
                "postgres: the loopback port the edge listens on for this database (required for postgres)."),
            .init(
                "sslmode", .string(choices: SSLMode.allCases.map(\.rawValue)),
                "postgres: `verify-full` (the default) is TLS to the database, its certificate chain (`ca`) and name "
                    + "(`serverName`) verified; `disable` is plain TCP, for a database on the same host."),
            .init(
                "reportEachRequest", .boolean, default: false,
                "Besides interval summaries, one audit event per proxied request."),
        ])

    package var scheme: Scheme
    package var host: String
    package var port: Int
    package var reportEachRequest: Bool
    package var methods: [String]?
    package var pathPrefix: String?
    package var ca: String?
    package var serverName: String?
    package var listenPort: Int?
    package var sslmode: SSLMode?

    package var target: AccessTarget { AccessTarget(scheme: scheme.rawValue, host: host, port: port) }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        var spec = self
        spec.host = host.lowercased()
        if let pathPrefix { try PathPrefixes.check(pathPrefix, at: "spec.pathPrefix") }
        if scheme == .postgres {
            try spec.admitPostgres()
        } else {
            if let misplaced = listenPort != nil ? "listenPort" : sslmode != nil ? "sslmode" : nil {
                throw ProblemDetails.invalidField(
                    "spec.\(misplaced)", "spec.\(misplaced) applies to scheme postgres only")
            }
            spec.methods = methods.map { Array(Set($0)).sorted() }
        }
        if scheme == .http || sslmode == .disable, ca != nil || serverName != nil {
            throw ProblemDetails.invalidField(
                ca != nil ? "spec.ca" : "spec.serverName",
                "ca and serverName apply to TLS only (scheme https, or postgres with sslmode verify-full)")
        }
        if let ca, (try? NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))?.isEmpty != false {
            throw ProblemDetails.invalidField("spec.ca", "spec.ca must hold PEM certificates")
        }
        return spec
    }

    package var uniqueness: String? {
        "\(scheme.rawValue)://\(host):\(port)\(pathPrefix ?? "")"
            + (methods.map { " for \($0.joined(separator: ", "))" } ?? "")
    }

    /// A database: a port to listen on, no HTTP scope, verified TLS unless disabled.
    private mutating func admitPostgres() throws {
        guard listenPort != nil else {
            throw ProblemDetails.invalidField(
                "spec.listenPort", "spec.listenPort is required for scheme postgres: the workload connects there")
        }
        if let misplaced = methods != nil
            ? "methods" : pathPrefix != nil ? "pathPrefix" : reportEachRequest ? "reportEachRequest" : nil
        {
            throw ProblemDetails.invalidField(
                "spec.\(misplaced)", "spec.\(misplaced) applies to HTTP server workloads only")
        }
        sslmode = sslmode ?? .verifyFull
    }

    /// What picks this server workload among those at its target.
    package var scope: RequestScope { RequestScope(methods: methods, pathPrefix: pathPrefix) }
}
