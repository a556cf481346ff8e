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

    /// The server workload a configuration event defines, typed, or nil if it is not one the edge can serve.
    static func serverWorkload(_ defined: ResourceDefined) -> EdgeServerWorkload? {
        /// The part of the `ServerWorkload` spec (as the policy service admitted it) that the edge uses.
        struct Spec: Decodable {
            let scheme: String
            let host: String
            let port: Int
            let reportEachRequest: Bool?
        }
        guard let spec = try? defined.spec.decode(Spec.self) else { return nil }
        return EdgeServerWorkload(
            name: defined.name,
            target: AccessTarget(scheme: spec.scheme, host: spec.host.lowercased(), port: spec.port),
            reportsEachRequest: spec.reportEachRequest ?? false)
    }
}
