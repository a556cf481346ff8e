import SigilEvents
import SigilService

/// A server workload: an API at scheme://host:port that client workloads get credentials for.
struct ServerWorkloadSpec: ResourceSpec {
    enum Scheme: String, Codable, Sendable {
        case http, https
    }

    static let kind = ResourceKind.serverWorkload
    static let summary = "An API that client workloads reach through an edge, at one scheme, host and port."
    static let schema = SpecSchema.object(
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

    var scheme: Scheme
    var host: String
    var port: Int
    var reportEachRequest: Bool

    var target: AccessTarget { AccessTarget(scheme: scheme.rawValue, host: host, port: port) }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        var spec = self
        spec.host = host.lowercased()
        return spec
    }

    var uniqueness: String? { "\(scheme.rawValue)://\(host):\(port)" }
}

extension ResourceIndex where Spec == ServerWorkloadSpec {
    /// The tenant's server workload at exactly this scheme, host and port, if any.
    func serverWorkload(at target: AccessTarget, tenant: String) -> Resource<ServerWorkloadSpec>? {
        let wanted = AccessTarget(scheme: target.scheme, host: target.host.lowercased(), port: target.port)
        return all(tenant: tenant).first { $0.spec.target == wanted }
    }
}
