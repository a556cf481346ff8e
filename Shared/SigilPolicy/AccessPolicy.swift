import SigilEvents
import SigilService

/// An access policy: this client workload, proven by these trust providers (one, all of several, or any of several),
/// may (`allow`) or may not (`deny`) reach this server workload, when its conditions hold; an allow names the
/// credential the edge injects and for how long. Precedence (`PolicyEngine`): a deny that applies wins over any
/// allow; among allows that apply, the first by name grants.
package struct AccessPolicySpec: ResourceSpec {
    package enum Effect: String, Codable, Sendable {
        case allow, deny
    }

    package static let kind = ResourceKind.accessPolicy
    package static let summary =
        "Lets (or forbids) one client workload, proven by its trust providers, reach one server workload, when its conditions hold."
    package static let schema = SpecSchema.object(
        summary,
        [
            .init("clientWorkload", SpecSchema.reference, required: true, "The ClientWorkload it is about."),
            .init("serverWorkload", SpecSchema.reference, required: true, "The ServerWorkload it may (not) reach."),
            .init(
                "effect", .string(choices: ["allow", "deny"]), default: "allow",
                "`allow` grants a credential; `deny` refuses, over any allow (deny overrides)."),
            .init(
                "trustProvider", SpecSchema.reference,
                "The TrustProvider whose evidence must have identified the client (or trustProviders; optional for "
                    + "a deny, which then applies whatever vouched)."),
            .init(
                "trustProviders", .object(TrustRequirement.schema),
                "Or several: `all` (each must have verified evidence: multi-factor) or `any` (one is enough)."),
            .init(
                "credentialProvider", SpecSchema.reference,
                "The CredentialProvider whose credential the edge injects (an allow needs it or credentialRoutes; a "
                    + "deny has none); with routes, the one for a request no route selects."),
            .init(
                "credentialRoutes", .array(of: .object(CredentialRoute.schema), minItems: 1, maxItems: 32),
                "Credentials chosen by the request (header, path, method), tried in order before credentialProvider."),
            .init(
                "ttlSeconds", .integer(minimum: 10, maximum: 86_400), default: 300,
                "How long an issued credential lives."),
            .init(
                "conditions", .object(PolicyConditions.schema),
                "When the policy applies (every condition given must hold)."),
        ])

    package var clientWorkload: String
    package var serverWorkload: String
    package var effect: Effect
    package var trustProvider: String?
    package var trustProviders: TrustRequirement?
    package var credentialProvider: String?
    package var credentialRoutes: [CredentialRoute]?
    package var ttlSeconds: Int
    package var conditions: PolicyConditions?

    private enum CodingKeys: String, CodingKey {
        case clientWorkload, serverWorkload, effect, trustProvider, trustProviders, credentialProvider, ttlSeconds
        case conditions, credentialRoutes
    }

    /// Policies stored before `effect` existed read as allows.
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        clientWorkload = try container.decode(String.self, forKey: .clientWorkload)
        serverWorkload = try container.decode(String.self, forKey: .serverWorkload)
        effect = try container.decodeIfPresent(Effect.self, forKey: .effect) ?? .allow
        trustProvider = try container.decodeIfPresent(String.self, forKey: .trustProvider)
        trustProviders = try container.decodeIfPresent(TrustRequirement.self, forKey: .trustProviders)
        credentialProvider = try container.decodeIfPresent(String.self, forKey: .credentialProvider)
        credentialRoutes = try container.decodeIfPresent([CredentialRoute].self, forKey: .credentialRoutes)
        ttlSeconds = try container.decode(Int.self, forKey: .ttlSeconds)
        conditions = try container.decodeIfPresent(PolicyConditions.self, forKey: .conditions)
    }

    /// The trust providers in effect: the list, or the one named; nil for a deny that names none.
    package var requirement: TrustRequirement? {
        trustProviders ?? trustProvider.map { TrustRequirement(all: [$0], any: nil) }
    }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        if trustProvider != nil, trustProviders != nil {
            throw ProblemDetails.invalidField(
                "spec.trustProvider", "give at most one of spec.trustProvider and spec.trustProviders")
        }
        if let requirement = trustProviders, (requirement.all == nil) == (requirement.any == nil) {
            throw ProblemDetails.invalidField(
                "spec.trustProviders", "give exactly one of spec.trustProviders.all and spec.trustProviders.any")
        }
        switch effect {
        case .allow:
            guard requirement != nil else {
                throw ProblemDetails.invalidField(
                    "spec.trustProvider", "an allow needs spec.trustProvider or spec.trustProviders")
            }
            guard credentialProvider != nil || credentialRoutes != nil else {
                throw ProblemDetails.invalidField(
                    "spec.credentialProvider", "an allow needs spec.credentialProvider or spec.credentialRoutes")
            }
        case .deny:
            guard credentialProvider == nil, credentialRoutes == nil else {
                throw ProblemDetails.invalidField(
                    "spec.credentialProvider", "a deny issues nothing: leave spec.credentialProvider out")
            }
        }
        try conditions?.check(at: "spec.conditions")
        for (index, route) in (credentialRoutes ?? []).enumerated() {
            try route.check(at: "spec.credentialRoutes[\(index)]")
        }
        return self
    }

    package var references: [ResourceReference] {
        var references = [
            ResourceReference(kind: .clientWorkload, name: clientWorkload, field: "spec.clientWorkload"),
            ResourceReference(kind: .serverWorkload, name: serverWorkload, field: "spec.serverWorkload"),
        ]
        if let credentialProvider {
            references.append(
                ResourceReference(kind: .credentialProvider, name: credentialProvider, field: "spec.credentialProvider")
            )
        }
        for (index, route) in (credentialRoutes ?? []).enumerated() {
            references.append(
                ResourceReference(
                    kind: .credentialProvider, name: route.credentialProvider,
                    field: "spec.credentialRoutes[\(index)].credentialProvider"))
        }
        for (index, condition) in (conditions?.posture ?? []).enumerated() {
            references.append(
                ResourceReference(
                    kind: .postureFeed, name: condition.feed, field: "spec.conditions.posture[\(index)].feed"))
        }
        if let trustProvider {
            references.append(ResourceReference(kind: .trustProvider, name: trustProvider, field: "spec.trustProvider"))
        }
        for (list, names) in [("all", trustProviders?.all), ("any", trustProviders?.any)] {
            for (index, name) in (names ?? []).enumerated() {
                references.append(
                    ResourceReference(kind: .trustProvider, name: name, field: "spec.trustProviders.\(list)[\(index)]"))
            }
        }
        return references
    }

    /// Two policies saying the same thing about the same client and server would only confuse.
    package var uniqueness: String? {
        "an \(effect.rawValue) for \(clientWorkload) (proven by \(requirement?.description ?? "anything")) reaching "
            + "\(serverWorkload)\(conditions.map { " when \($0)" } ?? "")"
    }
}

/// Which trust providers must have vouched for the client: every one of `all`, or one of `any`.
package struct TrustRequirement: Codable, Sendable, Equatable, CustomStringConvertible {
    static let schema = SpecSchema.ObjectSchema(
        "Trust providers that must all, or any one of which must, have verified the client's evidence.",
        [
            .init(
                "all", .array(of: SpecSchema.reference, minItems: 1, maxItems: 8),
                "Each of these must have verified evidence of the request."),
            .init(
                "any", .array(of: SpecSchema.reference, minItems: 1, maxItems: 8),
                "One of these must have verified evidence of the request."),
        ])

    package var all: [String]?
    package var any: [String]?

    package init(all: [String]?, any: [String]?) {
        self.all = all
        self.any = any
    }

    package func isSatisfied(by verified: [String]) -> Bool {
        let verified = Set(verified)
        if let all { return !all.isEmpty && Set(all).isSubset(of: verified) }
        if let any { return !verified.isDisjoint(with: any) }
        return false
    }

    package var description: String {
        if let all { return all.count == 1 ? all[0] : "all of \(all.sorted().joined(separator: ", "))" }
        return "any of \((any ?? []).sorted().joined(separator: ", "))"
    }
}
