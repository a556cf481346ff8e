import SigilEvents
import SigilService

/// A server workload: an API at scheme://host:port that client workloads get credentials for.
package struct ServerWorkloadSpec: ResourceSpec {
    package enum Scheme: String, Codable, Sendable {
        case http, https
    }

    package static let kind = ResourceKind.serverWorkload
    package static let summary = "An API that client workloads reach through an edge, at one scheme, host and port."
    package static let schema = SpecSchema.object(
        summary,
        [
            .init("scheme", .string(choices: ["http", "https"]), default: "https", "How the edge reaches it."),
            .init(
                "host",
                .string(
                    maxLength: 253,
                    pattern: (
                        regex: "^([A-Za-z0-9]([-A-Za-z0-9.]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f:.]{2,45})$",
                        meaning: "a host name or an IP address"
                    )), required: true, "Host name or IP address (compared without case)."),
            .init("port", .integer(minimum: 1, maximum: 65_535), required: true, "TCP port."),
            .init(
                "reportEachRequest", .boolean, default: false,
                "Besides interval summaries, one audit event per proxied request."),
        ])

    package var scheme: Scheme
    package var host: String
    package var port: Int
    package var reportEachRequest: Bool

    package var target: AccessTarget { AccessTarget(scheme: scheme.rawValue, host: host, port: port) }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        var spec = self
        spec.host = host.lowercased()
        return spec
    }

    package var uniqueness: String? { "\(scheme.rawValue)://\(host):\(port)" }
}

extension ResourceIndex where Spec == ServerWorkloadSpec {
    /// The tenant's server workload at exactly this scheme, host and port, if any.
    package func serverWorkload(at target: AccessTarget, tenant: String) -> Resource<ServerWorkloadSpec>? {
        let wanted = AccessTarget(scheme: target.scheme, host: target.host.lowercased(), port: target.port)
        return all(tenant: tenant).first { $0.spec.target == wanted }
    }
}
