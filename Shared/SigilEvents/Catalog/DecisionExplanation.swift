/// Why the policy service decided as it did: every access policy that named this client and server workload, whether
/// it applied, and each of its checks with what was expected and what the request had. Carried by `AccessGranted`
/// and `AccessDenied` (so the audit log says why), answered by `POST /v1/decisions/explain`, never holding a secret.
public struct DecisionExplanation: Codable, Sendable, Hashable {
    /// The policies considered, in the order they were weighed (deny before allow, then by name).
    public var policies: [PolicyEvaluation]
    /// The policy that decided (an allow that granted, a deny that refused), if any.
    public var decidedBy: String?

    public init(policies: [PolicyEvaluation], decidedBy: String?) {
        self.policies = policies
        self.decidedBy = decidedBy
    }

    /// One line for a refusal's detail: the deciding policy, or why each candidate did not apply.
    public var summary: String {
        if let decidedBy, let policy = policies.first(where: { $0.policy == decidedBy }) {
            return "access policy \(policy.policy) (\(policy.effect)) applies"
        }
        let reasons = policies.prefix(4).map { policy in
            let failed = policy.checks.filter { !$0.satisfied }.map { check in
                "\(check.condition): expected \(check.expected), was \(check.actual)"
            }
            return "\(policy.policy) (\(policy.effect)) does not apply: \(failed.joined(separator: "; "))"
        }
        return reasons.joined(separator: " | ") + (policies.count > 4 ? " | …" : "")
    }
}

/// One policy weighed for a request.
public struct PolicyEvaluation: Codable, Sendable, Hashable {
    public var policy: String
    /// `allow` or `deny`.
    public var effect: String
    /// Whether every check held.
    public var applies: Bool
    public var checks: [ConditionCheck]

    public init(policy: String, effect: String, applies: Bool, checks: [ConditionCheck]) {
        self.policy = policy
        self.effect = effect
        self.applies = applies
        self.checks = checks
    }
}

/// One check of a policy (its trust providers, a time window, ...).
public struct ConditionCheck: Codable, Sendable, Hashable {
    public var condition: String
    public var satisfied: Bool
    public var expected: String
    public var actual: String

    public init(condition: String, satisfied: Bool, expected: String, actual: String) {
        self.condition = condition
        self.satisfied = satisfied
        self.expected = expected
        self.actual = actual
    }
}
