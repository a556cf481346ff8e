import SigilEvents

/// A server workload as the edge needs it on the request path: typed once, when its configuration event arrives.
struct EdgeServerWorkload: Sendable, Hashable {
    let name: String
    let target: AccessTarget
    /// The server workload asked for one `edge.request-proxied` event per request (besides the interval summaries).
    let reportsEachRequest: Bool
}

/// The tenant's server workloads by exact scheme, host and port, read without a lock on every request.
final class ServerWorkloadIndex: Sendable {
    private let byTarget = Snapshot<[AccessTarget: EdgeServerWorkload]>([:])

    init(_ workloads: [EdgeServerWorkload] = []) {
        for workload in workloads { define(workload) }
    }

    func serverWorkload(at target: AccessTarget) -> EdgeServerWorkload? { byTarget.value[target] }

    var names: [String] { byTarget.value.values.map(\.name).sorted() }

    /// Adds or replaces a server workload (a redefinition may move it to another target).
    func define(_ workload: EdgeServerWorkload) {
        byTarget.update { index in
            index = index.filter { $0.value.name != workload.name }
            index[workload.target] = workload
        }
    }

    func remove(name: String) {
        byTarget.update { index in index = index.filter { $0.value.name != name } }
    }

    /// The typed server workload from a configuration event's spec, or nil if it is not one the edge can serve.
    static func serverWorkload(name: String, spec: JSONValue) -> EdgeServerWorkload? {
        guard let scheme = spec["scheme"]?.stringValue, let host = spec["host"]?.stringValue,
            case .number(let port) = spec["port"], let port = Int(exactly: port)
        else { return nil }
        var reportsEachRequest = false
        if case .bool(let value) = spec["reportEachRequest"] { reportsEachRequest = value }
        return EdgeServerWorkload(
            name: name, target: AccessTarget(scheme: scheme, host: host.lowercased(), port: port),
            reportsEachRequest: reportsEachRequest)
    }
}
