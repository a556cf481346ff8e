import SigilEvents
import SigilPolicy

/// What of a request the decisions about each server workload examine (`DecisionInputs`), gathered from the tenant's
/// access policies as they arrive: the edge sends those attributes with an access request and keeps one credential
/// per distinct combination of them (`RequestSelection`), so a credential routed by one header value, or granted to
/// one source network, is never used for a request with another.
final class DecisionInputIndex: Sendable {
    struct State: Sendable {
        var byPolicy: [String: (server: String, inputs: DecisionInputs)] = [:]
        var byServer: [String: DecisionInputs] = [:]
        /// Each policy's posture conditions (what a posture report may withdraw).
        var posture: [String: [PostureCondition]] = [:]
    }

    private let state = Snapshot(State())

    /// The inputs for a server workload (none when no policy about it examines the request).
    func inputs(for serverWorkload: String) -> DecisionInputs? { state.value.byServer[serverWorkload] }

    /// Takes in a policy defined (`spec` as admitted) or removed (`spec` nil).
    func apply(policy name: String, spec: AccessPolicySpec?) {
        state.update { state in
            var servers: Set<String> = []
            if let previous = state.byPolicy.removeValue(forKey: name) { servers.insert(previous.server) }
            state.posture[name] = spec?.conditions?.posture
            if let spec {
                state.byPolicy[name] = (spec.serverWorkload, spec.decisionInputs)
                servers.insert(spec.serverWorkload)
            }
            for server in servers {
                var union = DecisionInputs()
                for entry in state.byPolicy.values where entry.server == server { union.formUnion(entry.inputs) }
                state.byServer[server] = union.isEmpty ? nil : union
            }
        }
    }
}

extension DecisionInputIndex {
    /// The policies a posture report from `feed` no longer holds for (its score or status falls short of one of their
    /// conditions on the feed): what they granted is dropped (continuous evaluation). Which client the subject is,
    /// the edge cannot tell; every credential under such a policy goes, and is decided again.
    func policiesFailing(feed: String, score: Int?, status: String?) -> [String] {
        state.value.posture.compactMap { policy, conditions in
            conditions.contains { $0.feed == feed && !$0.accepts(score: score, status: status) } ? policy : nil
        }.sorted()
    }
}

/// The attributes of one request that a server workload's decisions examine: the part of the credential's key that
/// is not the workload's evidence. Empty for most server workloads (no routes, no network conditions).
struct RequestSelection: Hashable, Sendable {
    var method: String?
    /// The longest of the routes' path prefixes that covers the path.
    var pathPrefix: String?
    var source: String?
    var headers: [String: String] = [:]

    static let none = RequestSelection()

    init() {}

    init(_ request: RequestAttributes, inputs: DecisionInputs) {
        if inputs.method { method = request.method }
        if inputs.source { source = request.source }
        pathPrefix = inputs.pathPrefixes.filter { PathPrefix.covers($0, request.path) }.max {
            $0.utf8.count < $1.utf8.count
        }
        headers = request.headers
    }
}
