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
        /// What the explanation says each check expects, written once.
        let expectedProviders: String?
        let expectedWindows: String

        init(_ resource: Resource<AccessPolicySpec>) {
            self.resource = resource
            windows = (resource.spec.conditions?.timeWindows ?? []).map(CompiledTimeWindow.init)
            expectedProviders = resource.spec.requirement?.description
            expectedWindows = windows.map(\.window.description).joined(separator: " or ")
        }
    }

    struct Pair: Hashable, Sendable {
        let client: String
        let server: String
    }

    struct TenantIndex: Sendable {
        let generations: (UInt64, UInt64)
        let serverByTarget: [AccessTarget: String]
        let policies: [Pair: [CompiledPolicy]]
    }

    private final class Snapshot: AtomicReference, Sendable {
        let tenants: [String: TenantIndex]
        init(_ tenants: [String: TenantIndex]) { self.tenants = tenants }
    }

    private let state = ManagedAtomic(Snapshot([:]))
    private let servers: ResourceIndex<ServerWorkloadSpec>
    private let policies: ResourceIndex<AccessPolicySpec>

    package init(servers: ResourceIndex<ServerWorkloadSpec>, policies: ResourceIndex<AccessPolicySpec>) {
        self.servers = servers
        self.policies = policies
    }

    package convenience init(_ store: ResourceStore) {
        self.init(servers: store.index(ServerWorkloadSpec.self), policies: store.index(AccessPolicySpec.self))
    }

    /// The decision for a client workload (with the trust providers that verified its evidence) reaching a target.
    package func decide(
        clientWorkload: String, target: AccessTarget, trustProviders: [String], tenant: String, at moment: Date
    ) -> Decision {
        let index = self.index(tenant)
        let wanted = AccessTarget(scheme: target.scheme, host: target.host.lowercased(), port: target.port)
        // An exact host first, then the wildcards that cover it, the most specific first (as the edge routes).
        let server =
            index.serverByTarget[wanted]
            ?? wanted.wildcardCandidates.lazy.compactMap { index.serverByTarget[$0] }.first
        guard let server else {
            return Decision(
                serverWorkload: nil, policy: nil,
                refusal: RefusalReason(
                    code: "unknown-server-workload",
                    detail: "\(target.scheme)://\(target.host):\(target.port) is not a server workload"),
                explanation: nil)
        }
        return decide(
            clientWorkload: clientWorkload, serverWorkload: server, trustProviders: trustProviders, index: index,
            at: moment)
    }

    /// The decision for a client and server workload by name (what `explain` answers).
    package func decide(
        clientWorkload: String, serverWorkload: String, trustProviders: [String], tenant: String, at moment: Date
    ) -> Decision {
        decide(
            clientWorkload: clientWorkload, serverWorkload: serverWorkload, trustProviders: trustProviders,
            index: index(tenant), at: moment)
    }

    private func decide(
        clientWorkload: String, serverWorkload: String, trustProviders: [String], index: TenantIndex, at moment: Date
    ) -> Decision {
        let candidates = index.policies[Pair(client: clientWorkload, server: serverWorkload)] ?? []
        var evaluations: [PolicyEvaluation] = []
        evaluations.reserveCapacity(candidates.count)
        var deciding: CompiledPolicy?
        for candidate in candidates {
            let evaluation = Self.evaluate(candidate, trustProviders: trustProviders, at: moment)
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
        return Decision(
            serverWorkload: serverWorkload, policy: deciding.resource, ttlSeconds: ttl, refusal: nil,
            explanation: explanation)
    }

    /// Each check of one policy against the request.
    static func evaluate(_ policy: CompiledPolicy, trustProviders: [String], at moment: Date) -> PolicyEvaluation {
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
        return PolicyEvaluation(
            policy: policy.resource.name, effect: spec.effect.rawValue, applies: checks.allSatisfy(\.satisfied),
            checks: checks)
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
        var serverByTarget: [AccessTarget: String] = [:]
        for server in servers.all(tenant: tenant) { serverByTarget[server.spec.target] = server.name }
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
