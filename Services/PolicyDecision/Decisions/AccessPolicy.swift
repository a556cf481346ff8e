import SigilEvents
import SigilService

/// An access policy: this client workload, proven by these trust providers (one, all of several, or any of several),
/// may reach this server workload with a credential from this provider, for this long.
struct AccessPolicySpec: ResourceSpec {
    static let kind = ResourceKind.accessPolicy
    static let summary =
        "Lets one client workload, proven by its trust providers, reach one server workload with one credential."
    static let schema = SpecSchema.object(
        summary,
        [
            .init("clientWorkload", SpecSchema.reference, required: true, "The ClientWorkload allowed."),
            .init("serverWorkload", SpecSchema.reference, required: true, "The ServerWorkload it may reach."),
            .init(
                "trustProvider", SpecSchema.reference,
                "The TrustProvider whose evidence must have identified the client (or trustProviders)."),
            .init(
                "trustProviders", .object(TrustRequirement.schema),
                "Or several: `all` (each must have verified evidence: multi-factor) or `any` (one is enough)."),
            .init(
                "credentialProvider", SpecSchema.reference, required: true,
                "The CredentialProvider whose credential the edge injects."),
            .init(
                "ttlSeconds", .integer(minimum: 10, maximum: 86_400), default: 300,
                "How long an issued credential lives."),
        ])

    var clientWorkload: String
    var serverWorkload: String
    var trustProvider: String?
    var trustProviders: TrustRequirement?
    var credentialProvider: String
    var ttlSeconds: Int

    /// The trust providers in effect: the list, or the one named.
    var requirement: TrustRequirement {
        trustProviders ?? TrustRequirement(all: trustProvider.map { [$0] }, any: nil)
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        switch (trustProvider, trustProviders) {
        case (nil, nil), (.some, .some):
            throw ProblemDetails.invalidField(
                "spec.trustProvider", "give exactly one of spec.trustProvider and spec.trustProviders")
        case (nil, let requirement?):
            guard (requirement.all == nil) != (requirement.any == nil) else {
                throw ProblemDetails.invalidField(
                    "spec.trustProviders", "give exactly one of spec.trustProviders.all and spec.trustProviders.any")
            }
        case (.some, nil): break
        }
        return self
    }

    var references: [ResourceReference] {
        var references = [
            ResourceReference(kind: .clientWorkload, name: clientWorkload, field: "spec.clientWorkload"),
            ResourceReference(kind: .serverWorkload, name: serverWorkload, field: "spec.serverWorkload"),
            ResourceReference(kind: .credentialProvider, name: credentialProvider, field: "spec.credentialProvider"),
        ]
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

    /// Two policies for the same client, trust providers and server would leave the decision to chance.
    var uniqueness: String? {
        "a policy for \(clientWorkload) (proven by \(requirement)) reaching \(serverWorkload)"
    }
}

/// Which trust providers must have vouched for the client: every one of `all`, or one of `any`.
struct TrustRequirement: Codable, Sendable, Equatable, CustomStringConvertible {
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

    var all: [String]?
    var any: [String]?

    func isSatisfied(by verified: [String]) -> Bool {
        let verified = Set(verified)
        if let all { return !all.isEmpty && Set(all).isSubset(of: verified) }
        if let any { return !verified.isDisjoint(with: any) }
        return false
    }

    var description: String {
        if let all { return all.count == 1 ? all[0] : "all of \(all.sorted().joined(separator: ", "))" }
        return "any of \((any ?? []).sorted().joined(separator: ", "))"
    }
}
