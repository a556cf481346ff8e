import Atomics
import Foundation
import SigilEvents
import SigilService

/// Decides access from compiled per-tenant indexes: server workloads by target, and each (client workload, server
/// workload) pair's policies in the order they are weighed, their time windows' calendars built. An index is built
/// from the typed resources when a tenant's configuration has changed since (checked by two counters per decision)
/// and read without a lock (an atomic reference), so deciding costs a few dictionary reads and the pair's own checks.
///
/// Precedence: the pair's policies are weighed deny first, then allow, each group by name; a deny that applies
/// refuses whatever allows there are (deny overrides); otherwise the first allow that applies grants; otherwise the
/// request is refused, and the explanation lists every policy weighed and each of its checks.
package final class PolicyEngine: Sendable {
    package struct Decision: Sendable {
        /// The server workload at the target, if any.
        package let serverWorkload: String?
        /// The allow that granted.
        package let policy: Resource<AccessPolicySpec>?
        /// The credential it grants for this request (its route's, or its default).
        package var credentialProvider: String? = nil
        /// How long the credential may live: the policy's `ttlSeconds`, cut to the end of the time window that let
        /// it in (so access ends with the window, not a TTL later).
        package var ttlSeconds: Int? = nil
        /// Why not, when nothing granted.
        package let refusal: RefusalReason?
        /// Every policy weighed (nil when the target is no server workload).
        package let explanation: DecisionExplanation?
    }

    struct CompiledPolicy: Sendable {
        let resource: Resource<AccessPolicySpec>
        let windows: [CompiledTimeWindow]
        let networks: [NetworkBlock]?
        let geography: GeographyCondition?
        let posture: [PostureCondition]
        /// What the explanation says each check expects, written once.
        let expectedProviders: String?
        let expectedWindows: String
        let expectedNetworks: String

        init(_ resource: Resource<AccessPolicySpec>) {
            self.resource = resource
            let conditions = resource.spec.conditions
            windows = (conditions?.timeWindows ?? []).map(CompiledTimeWindow.init)
            // Admission checked each block: none is dropped here (a dropped block would only narrow an allow).
            networks = conditions?.sourceNetworks.map { $0.compactMap { try? NetworkBlock(parsing: $0) } }
            geography = conditions?.geography
            posture = conditions?.posture ?? []
            expectedProviders = resource.spec.requirement?.description
            expectedWindows = windows.map(\.window.description).joined(separator: " or ")
            expectedNetworks = (networks ?? []).map(\.description).joined(separator: ", ")
        }
    }

    struct Pair: Hashable, Sendable {
        let client: String
        let server: String
    }

    struct ScopedServer: Sendable {
        let name: String
        let scope: RequestScope
    }

    struct TenantIndex: Sendable {
        let generations: (UInt64, UInt64)
        /// The server workloads at each target, the most specific scope first.
        let serverByTarget: [AccessTarget: [ScopedServer]]
        let policies: [Pair: [CompiledPolicy]]
    }

    private final class Snapshot: AtomicReference, Sendable {
        let tenants: [String: TenantIndex]
        init(_ tenants: [String: TenantIndex]) { self.tenants = tenants }
    }

    private let state = ManagedAtomic(Snapshot([:]))
    private let servers: ResourceIndex<ServerWorkloadSpec>
    private let policies: ResourceIndex<AccessPolicySpec>
    /// Where addresses are, for geography conditions (nil: no database configured, and such conditions fail).
    private let geography: (any GeoLocator)?
    /// What posture feeds last reported, for posture conditions (nil: none known, and such conditions fail).
    private let posture: PostureBoard?

    package init(
        servers: ResourceIndex<ServerWorkloadSpec>, policies: ResourceIndex<AccessPolicySpec>,
        geography: (any GeoLocator)? = nil, posture: PostureBoard? = nil
    ) {
        self.servers = servers
        self.policies = policies
        self.geography = geography
        self.posture = posture
    }

    package convenience init(
        _ store: ResourceStore, geography: (any GeoLocator)? = nil, posture: PostureBoard? = nil
    ) {
        self.init(
            servers: store.index(ServerWorkloadSpec.self), policies: store.index(AccessPolicySpec.self),
            geography: geography, posture: posture)
    }

    /// The decision for a client workload (with the trust providers that verified its evidence) reaching a target.
    package func decide(
        clientWorkload: String, target: AccessTarget, request: RequestAttributes? = nil, trustProviders: [String],
        claims: [String: String] = [:], tenant: String, at moment: Date
    ) -> Decision {
        let index = self.index(tenant)
        let wanted = AccessTarget(scheme: target.scheme, host: target.host.lowercased(), port: target.port)
        // An exact host first, then the wildcards that cover it, the most specific first (as the edge routes); at a
        // target, the server workload whose method and path scope takes the request, the most specific first.
        var server: ScopedServer?
        var ambiguous = false
        // Where paths tell server workloads apart, a path that could be read two ways is refused, never taken by the
        // catch-all (`/public/../admin` is not a public path).
        func take(_ candidate: AccessTarget) -> Bool {
            guard let servers = index.serverByTarget[candidate] else { return false }
            if let path = request?.path, servers.count > 1 || servers[0].scope.pathPrefix != nil,
                !PathPrefix.isCanonical(path), servers.contains(where: { $0.scope.pathPrefix != nil })
            {
                ambiguous = true
                return true
            }
            server = RequestScope.pick(servers, scope: \.scope, method: request?.method, path: request?.path)
            return server != nil
        }
        // The wildcards (a string made per parent domain) only when the exact host has none that takes the request.
        if !take(wanted) {
            for candidate in wanted.wildcardCandidates where take(candidate) { break }
        }
        if ambiguous {
            return Decision(
                serverWorkload: nil, policy: nil,
                refusal: RefusalReason(
                    code: "ambiguous-path",
                    detail: "the path is not in canonical form and server workloads at this host are told apart by path"
                ),
                explanation: nil)
        }
        guard let server else {
            let what = request.map { " (\($0.method) \($0.path))" } ?? ""
            return Decision(
                serverWorkload: nil, policy: nil,
                refusal: RefusalReason(
                    code: "unknown-server-workload",
                    detail: "\(target.scheme)://\(target.host):\(target.port)\(what) is not a server workload"),
                explanation: nil)
        }
        return decide(
            clientWorkload: clientWorkload, serverWorkload: server.name, request: request,
            trustProviders: trustProviders, claims: claims, tenant: tenant, index: index, at: moment)
    }

    /// The decision for a client and server workload by name (what `explain` answers).
    package func decide(
        clientWorkload: String, serverWorkload: String, request: RequestAttributes? = nil, trustProviders: [String],
        claims: [String: String] = [:], tenant: String, at moment: Date
    ) -> Decision {
        decide(
            clientWorkload: clientWorkload, serverWorkload: serverWorkload, request: request,
            trustProviders: trustProviders, claims: claims, tenant: tenant, index: index(tenant), at: moment)
    }

    private func decide(
        clientWorkload: String, serverWorkload: String, request: RequestAttributes?, trustProviders: [String],
        claims: [String: String], tenant: String, index: TenantIndex, at moment: Date
    ) -> Decision {
        let candidates = index.policies[Pair(client: clientWorkload, server: serverWorkload)] ?? []
        var evaluations: [PolicyEvaluation] = []
        evaluations.reserveCapacity(candidates.count)
        var deciding: CompiledPolicy?
        for candidate in candidates {
            let evaluation = evaluate(
                candidate, request: request, trustProviders: trustProviders, claims: claims, tenant: tenant,
                at: moment)
            evaluations.append(evaluation)
            // Deny first in the order, so the first that applies is the deny (if any) or the granting allow.
            if deciding == nil, evaluation.applies { deciding = candidate }
        }
        let explanation = DecisionExplanation(policies: evaluations, decidedBy: deciding?.resource.name)
        guard let deciding else {
            let detail =
                candidates.isEmpty
                ? "no access policy lets \(clientWorkload) reach \(serverWorkload)" : explanation.summary
            return Decision(
                serverWorkload: serverWorkload, policy: nil,
                refusal: RefusalReason(code: "no-matching-policy", detail: detail), explanation: explanation)
        }
        if deciding.resource.spec.effect == .deny {
            return Decision(
                serverWorkload: serverWorkload, policy: nil,
                refusal: RefusalReason(
                    code: "denied-by-policy",
                    detail:
                        "access policy \(deciding.resource.name) denies \(clientWorkload) reaching \(serverWorkload)"),
                explanation: explanation)
        }
        var ttl = deciding.resource.spec.ttlSeconds
        if !deciding.windows.isEmpty {
            let left = deciding.windows.compactMap { window -> Int? in
                let (inside, _, secondsLeft) = window.contains(moment)
                return inside ? secondsLeft : nil
            }.max()
            ttl = min(ttl, left ?? ttl)
        }
        // Nor past the moment a posture report it relied on goes stale.
        for condition in deciding.posture {
            let (_, _, left) = condition.evaluate(claims: claims, board: posture, tenant: tenant, at: moment)
            ttl = min(ttl, left ?? ttl)
        }
        guard let credential = deciding.resource.spec.credential(for: request).provider else {
            return Decision(
                serverWorkload: serverWorkload, policy: nil,
                refusal: RefusalReason(
                    code: "no-credential-route",
                    detail:
                        "access policy \(deciding.resource.name) allows, but none of its credential routes selects "
                        + "this request and it has no default credentialProvider"),
                explanation: explanation)
        }
        return Decision(
            serverWorkload: serverWorkload, policy: deciding.resource, credentialProvider: credential,
            ttlSeconds: ttl, refusal: nil, explanation: explanation)
    }

    /// Each check of one policy against the request.
    func evaluate(
        _ policy: CompiledPolicy, request: RequestAttributes? = nil, trustProviders: [String],
        claims: [String: String] = [:], tenant: String = "", at moment: Date
    ) -> PolicyEvaluation {
        let spec = policy.resource.spec
        var checks: [ConditionCheck] = []
        if let requirement = spec.requirement, let expected = policy.expectedProviders {
            checks.append(
                ConditionCheck(
                    condition: "trustProviders", satisfied: requirement.isSatisfied(by: trustProviders),
                    expected: expected,
                    actual: trustProviders.isEmpty ? "none" : trustProviders.joined(separator: ", ")))
        }
        if !policy.windows.isEmpty {
            var inside = false
            var local: [String] = []
            for window in policy.windows {
                let (contains, moment, _) = window.contains(moment)
                if !local.contains(moment) { local.append(moment) }
                if contains {
                    inside = true
                    break
                }
            }
            checks.append(
                ConditionCheck(
                    condition: "timeWindows", satisfied: inside, expected: policy.expectedWindows,
                    actual: local.joined(separator: " / ")))
        }
        if let networks = policy.networks {
            let address = request?.source.flatMap(IPAddress.init)
            checks.append(
                ConditionCheck(
                    condition: "sourceNetworks",
                    satisfied: address.map { address in networks.contains { $0.contains(address) } } ?? false,
                    expected: policy.expectedNetworks,
                    actual: address != nil ? request?.source ?? "" : Self.unknownSource(request)))
        }
        if let geography = policy.geography {
            var location: GeoLocation?
            let actual: String
            if let address = request?.source.flatMap(IPAddress.init) {
                if let locator = self.geography {
                    location = locator.locate(address)
                    actual =
                        location.map { "\($0) (\(address))" } ?? "unknown place (\(address) is not in the database)"
                } else {
                    actual = "unknown place (no geolocation database: SIGIL_POLICY_GEOIP_DATABASE)"
                }
            } else {
                actual = Self.unknownSource(request)
            }
            checks.append(
                ConditionCheck(
                    condition: "geography", satisfied: location.map(geography.holds) ?? false,
                    expected: geography.description, actual: actual))
        }
        for condition in policy.posture {
            let (satisfied, actual, _) = condition.evaluate(claims: claims, board: posture, tenant: tenant, at: moment)
            checks.append(
                ConditionCheck(
                    condition: "posture", satisfied: satisfied, expected: condition.description, actual: actual))
        }
        return PolicyEvaluation(
            policy: policy.resource.name, effect: spec.effect.rawValue, applies: checks.allSatisfy(\.satisfied),
            checks: checks)
    }

    static func unknownSource(_ request: RequestAttributes?) -> String {
        request?.source.map { "unreadable address \($0.prefix(48))" } ?? "unknown (the edge did not say)"
    }

    /// The tenant's index, built again if its server workloads or policies changed since it was built.
    private func index(_ tenant: String) -> TenantIndex {
        let generations = (servers.generation, policies.generation)
        let current = state.load(ordering: .acquiring)
        if let index = current.tenants[tenant], index.generations == generations { return index }
        let built = build(tenant, generations: generations)
        var snapshot = current
        while true {
            var tenants = snapshot.tenants
            tenants[tenant] = built
            let (exchanged, original) = state.compareExchange(
                expected: snapshot, desired: Snapshot(tenants), ordering: .acquiringAndReleasing)
            if exchanged { return built }
            snapshot = original
        }
    }

    private func build(_ tenant: String, generations: (UInt64, UInt64)) -> TenantIndex {
        var serverByTarget: [AccessTarget: [ScopedServer]] = [:]
        for server in servers.all(tenant: tenant) {
            serverByTarget[server.spec.target, default: []].append(
                ScopedServer(name: server.name, scope: server.spec.scope))
        }
        for (target, list) in serverByTarget where list.count > 1 {
            serverByTarget[target] = list.sorted {
                RequestScope.moreSpecific($0.scope, $1.scope)
                    || (!RequestScope.moreSpecific($1.scope, $0.scope) && $0.name < $1.name)
            }
        }
        var grouped: [Pair: [CompiledPolicy]] = [:]
        for policy in policies.all(tenant: tenant) {
            let compiled = CompiledPolicy(policy)
            grouped[Pair(client: policy.spec.clientWorkload, server: policy.spec.serverWorkload), default: []]
                .append(compiled)
        }
        for (pair, list) in grouped {
            grouped[pair] = list.sorted { left, right in
                let (l, r) = (left.resource, right.resource)
                if l.spec.effect != r.spec.effect { return l.spec.effect == .deny }
                return l.name < r.name
            }
        }
        return TenantIndex(generations: generations, serverByTarget: serverByTarget, policies: grouped)
    }
}
