import SigilEvents
import SigilPolicy

/// A server workload as the edge needs it on the request path: typed once, when its configuration event arrives.
struct EdgeServerWorkload: Sendable, Hashable {
    let name: String
    let target: AccessTarget
    /// Which of the target's requests are this server workload's (methods, path prefix).
    var scope = RequestScope(methods: nil, pathPrefix: nil)
    /// The server workload asked for one `edge.request-proxied` event per request (besides the interval summaries).
    var reportsEachRequest = false
    /// For `https` (and `postgres` with `sslmode: verify-full`): the TLS the edge originates.
    var tls: UpstreamTLS? = nil
    /// For `postgres`: the loopback port the edge listens on for it.
    var listenPort: Int? = nil

    static func == (left: Self, right: Self) -> Bool {
        left.name == right.name && left.target == right.target && left.scope == right.scope
            && left.reportsEachRequest == right.reportsEachRequest && left.tls?.id == right.tls?.id
            && left.listenPort == right.listenPort
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(target)
    }
}

/// The tenant's server workloads by scheme, host and port, read without a lock on every request: an exact host first,
/// then wildcards (`*.payments.internal`) from the most specific; at a target, the server workload whose method and
/// path scope takes the request, the most specific scope first (as the policy service picks).
final class ServerWorkloadIndex: Sendable {
    struct State: Sendable {
        /// Each target's server workloads, the most specific scope first.
        var byTarget: [AccessTarget: [EdgeServerWorkload]] = [:]
        var targetOf: [String: AccessTarget] = [:]
        /// Whether any server workload is https (else a plain request has no https server workload to mean).
        var hasHTTPS = false
        /// The `postgres` server workloads, kept here so the listeners' reconciliation reads them without a scan.
        var databases: [EdgeServerWorkload] = []
    }

    enum Change: Sendable {
        case define(EdgeServerWorkload)
        case remove(name: String)
    }

    /// What a request to a target is.
    enum Match: Sendable, Equatable {
        case serverWorkload(EdgeServerWorkload)
        /// No server workload at the target takes it: forwarded as unmanaged traffic (if the edge allows that).
        case unmanaged
        /// Server workloads at the target are told apart by path, and this path could be read two ways
        /// (`/public/../admin`, `%2F`): refused rather than guessed.
        case ambiguousPath
    }

    private let state = Snapshot(State())

    init(_ workloads: [EdgeServerWorkload] = []) {
        apply(workloads.map(Change.define))
    }

    /// The server workload for a request (`path` without its query); with no method and path, one without a scope.
    func match(_ target: AccessTarget, method: String? = nil, path: String? = nil) -> Match {
        let byTarget = state.value.byTarget
        func at(_ candidate: AccessTarget) -> Match? {
            guard let workloads = byTarget[candidate] else { return nil }
            if let path, workloads.count > 1 || workloads[0].scope.pathPrefix != nil, !PathPrefix.isCanonical(path),
                workloads.contains(where: { $0.scope.pathPrefix != nil })
            {
                return .ambiguousPath
            }
            return RequestScope.pick(workloads, scope: \.scope, method: method, path: path).map(Match.serverWorkload)
        }
        // The exact host first; the wildcards (a string made per parent domain) only when it has none for the request.
        if let exact = at(target) { return exact }
        for candidate in target.wildcardCandidates {
            if let covering = at(candidate) { return covering }
        }
        return .unmanaged
    }

    /// Whether any server workload is at the target (whatever its scope).
    func manages(_ target: AccessTarget) -> Bool {
        let byTarget = state.value.byTarget
        return byTarget[target] != nil || target.wildcardCandidates.contains { byTarget[$0] != nil }
    }

    var names: [String] { state.value.targetOf.keys.sorted() }

    /// Whether any server workload is https.
    var hasHTTPS: Bool { state.value.hasHTTPS }

    /// The `postgres` server workloads (each with the port the edge listens on for it).
    var databases: [EdgeServerWorkload] { state.value.databases }

    /// Applies changes in order, as one update of the index (a redefinition may move a workload to another target).
    func apply(_ changes: [Change]) {
        guard !changes.isEmpty else { return }
        state.update { state in
            var touched = Set<AccessTarget>()
            var databasesChanged = false
            for change in changes {
                let name: String
                switch change {
                case .define(let workload): name = workload.name
                case .remove(let removed): name = removed
                }
                if let previous = state.targetOf.removeValue(forKey: name) {
                    databasesChanged = databasesChanged || previous.scheme == "postgres"
                    state.byTarget[previous]?.removeAll { $0.name == name }
                    if state.byTarget[previous]?.isEmpty == true { state.byTarget[previous] = nil }
                }
                if case .define(let workload) = change {
                    state.byTarget[workload.target, default: []].append(workload)
                    state.targetOf[workload.name] = workload.target
                    touched.insert(workload.target)
                    databasesChanged = databasesChanged || workload.target.scheme == "postgres"
                }
            }
            if databasesChanged {
                state.databases = state.byTarget.filter { $0.key.scheme == "postgres" }.values.flatMap { $0 }
            }
            state.hasHTTPS = state.byTarget.keys.contains { $0.scheme == "https" }
            for target in touched {
                state.byTarget[target]?.sort {
                    RequestScope.moreSpecific($0.scope, $1.scope)
                        || (!RequestScope.moreSpecific($1.scope, $0.scope) && $0.name < $1.name)
                }
            }
        }
    }

    func define(_ workload: EdgeServerWorkload) { apply([.define(workload)]) }

    func remove(name: String) { apply([.remove(name: name)]) }

    /// The server workload a configuration event defines, typed, or nil if it is not one the edge can serve.
    static func serverWorkload(_ defined: ResourceDefined) -> EdgeServerWorkload? {
        /// The part of the `ServerWorkload` spec (as the policy service admitted it) that the edge uses; fields added
        /// later are optional, so records written before them still read.
        struct Spec: Decodable {
            let scheme: String
            let host: String
            let port: Int
            let reportEachRequest: Bool?
            let methods: [String]?
            let pathPrefix: String?
            let ca: String?
            let serverName: String?
            let listenPort: Int?
            let sslmode: String?
        }
        guard let spec = try? defined.spec.decode(Spec.self) else { return nil }
        var tls: UpstreamTLS?
        if spec.scheme == "https" || (spec.scheme == "postgres" && spec.sslmode != "disable") {
            // Admission checked the CA; one that still does not load leaves the server workload unserved, not open.
            guard let built = try? UpstreamTLS(ca: spec.ca, serverName: spec.serverName, host: spec.host) else {
                return nil
            }
            tls = built
        }
        return EdgeServerWorkload(
            name: defined.name,
            target: AccessTarget(scheme: spec.scheme, host: spec.host.lowercased(), port: spec.port),
            scope: RequestScope(methods: spec.methods, pathPrefix: spec.pathPrefix),
            reportsEachRequest: spec.reportEachRequest ?? false, tls: tls,
            listenPort: spec.scheme == "postgres" ? spec.listenPort : nil)
    }
}
