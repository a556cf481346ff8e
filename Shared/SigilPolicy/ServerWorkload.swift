import NIOSSL
import SigilEvents
import SigilService

/// A server workload: an API at scheme://host:port that client workloads get credentials for, optionally only some of
/// its methods and paths (so one host can be several server workloads: `/v1/payments` and `/v1/admin` with their own
/// policies).
package struct ServerWorkloadSpec: ResourceSpec {
    package enum Scheme: String, Codable, Sendable {
        case http, https
    }

    package static let kind = ResourceKind.serverWorkload
    package static let summary = "An API that client workloads reach through an edge, at one scheme, host and port."
    package static let schema = SpecSchema.object(
        summary,
        [
            .init(
                "scheme", .string(choices: ["http", "https"]), default: "https",
                "How the edge reaches it: https is TLS the edge originates (the workload sends plain HTTP to the edge), "
                    + "the upstream's certificate and name verified."),
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
                "PEM certificate authorities the upstream's certificate must chain to (https; default: the system's)."),
            .init(
                "serverName",
                .string(
                    maxLength: 253, pattern: (regex: "^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$", meaning: "a DNS name")
                ),
                "The name sent (SNI) and verified in the upstream's certificate (https; default: host)."),
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

    package var target: AccessTarget { AccessTarget(scheme: scheme.rawValue, host: host, port: port) }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        var spec = self
        spec.host = host.lowercased()
        if let pathPrefix { try PathPrefixes.check(pathPrefix, at: "spec.pathPrefix") }
        spec.methods = methods.map { Array(Set($0)).sorted() }
        if scheme == .http, ca != nil || serverName != nil {
            throw ProblemDetails.invalidField(
                ca != nil ? "spec.ca" : "spec.serverName", "ca and serverName apply to scheme https only")
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

    /// What picks this server workload among those at its target.
    package var scope: RequestScope { RequestScope(methods: methods, pathPrefix: pathPrefix) }
}
