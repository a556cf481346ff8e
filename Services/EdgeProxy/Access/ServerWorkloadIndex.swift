import SigilEvents

/// A server workload as the edge needs it on the request path: typed once, when its configuration event arrives.
struct EdgeServerWorkload: Sendable, Hashable {
    let name: String
    let target: AccessTarget
    /// The server workload asked for one `edge.request-proxied` event per request (besides the interval summaries).
    let reportsEachRequest: Bool
}

/// The tenant's server workloads by scheme, host and port, read without a lock on every request: an exact host first,
/// then wildcards (`*.payments.internal`) from the most specific.
final class ServerWorkloadIndex: Sendable {
    struct State: Sendable {
        var byTarget: [AccessTarget: EdgeServerWorkload] = [:]
        var targetOf: [String: AccessTarget] = [:]
    }

    enum Change: Sendable {
        case define(EdgeServerWorkload)
        case remove(name: String)
    }

    private let state = Snapshot(State())

    init(_ workloads: [EdgeServerWorkload] = []) {
        apply(workloads.map(Change.define))
    }

    func serverWorkload(at target: AccessTarget) -> EdgeServerWorkload? {
        let byTarget = state.value.byTarget
        if let exact = byTarget[target] { return exact }
        for candidate in target.wildcardCandidates {
            if let covering = byTarget[candidate] { return covering }
        }
        return nil
    }

    var names: [String] { state.value.targetOf.keys.sorted() }

    /// Applies changes in order, as one update of the index (a redefinition may move a workload to another target).
    func apply(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        state.update { state in
            for change in changes {
                switch change {
                case .define(let workload):
                    if let previous = state.targetOf[workload.name], state.byTarget[previous]?.name == workload.name {
                        state.byTarget[previous] = nil
                    }
                    state.byTarget[workload.target] = workload
                    state.targetOf[workload.name] = workload.target
                case .remove(let name):
                    if let previous = state.targetOf.removeValue(forKey: name), state.byTarget[previous]?.name == name {
                        state.byTarget[previous] = nil
                    }
                }
            }
        }
    }

    func define(_ workload: EdgeServerWorkload) { apply([.define(workload)]) }

    func remove(name: String) { apply([.remove(name: name)]) }

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
