import SigilEvents
import SigilService

/// A client workload: the identity that verified evidence maps to, named by typed identifiers (with wildcards) that
/// must all, or any one, match. The first form (one Kubernetes service account: `trustProvider`, `namespace`,
/// `serviceAccount`) is still accepted as shorthand for one identifier.
package struct ClientWorkloadSpec: ResourceSpec {
    package static let kind = ResourceKind.clientWorkload
    package static let summary = "A workload that calls APIs, identified by evidence trust providers verify."
    package static let schema = SpecSchema.object(
        summary,
        [
            .init(
                "identifiers", .array(of: .object(WorkloadIdentifier.schema), minItems: 1, maxItems: 16),
                "What verified evidence must say: each identifier names a trust provider and what its evidence "
                    + "must hold."),
            .init(
                "match", .string(choices: ["all", "any"]), default: "all",
                "`all`: every identifier must match (several trust providers vouch together); `any`: one is enough."),
            .init(
                "trustProvider", SpecSchema.reference,
                "Shorthand (with namespace and serviceAccount, instead of identifiers): the Kubernetes TrustProvider."),
            .init(
                "namespace", .string(maxLength: 63, pattern: SpecSchema.dnsLabel),
                "Shorthand: its Kubernetes namespace."),
            .init(
                "serviceAccount",
                .string(
                    maxLength: 253,
                    pattern: (
                        regex: "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                        meaning: "a Kubernetes service account name (lower-case DNS subdomain)"
                    )), "Shorthand: its Kubernetes service account."),
        ])

    package enum Match: String, Codable, Sendable {
        case all, any
    }

    package var identifiers: [WorkloadIdentifier]?
    package var match: Match
    package var trustProvider: String?
    package var namespace: String?
    package var serviceAccount: String?

    private enum CodingKeys: String, CodingKey {
        case identifiers, match, trustProvider, namespace, serviceAccount
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        identifiers = try container.decodeIfPresent([WorkloadIdentifier].self, forKey: .identifiers)
        match = try container.decodeIfPresent(Match.self, forKey: .match) ?? .all
        trustProvider = try container.decodeIfPresent(String.self, forKey: .trustProvider)
        namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
        serviceAccount = try container.decodeIfPresent(String.self, forKey: .serviceAccount)
    }

    /// The identifiers in effect: the list, or the shorthand's one.
    package var effectiveIdentifiers: [WorkloadIdentifier] {
        if let identifiers { return identifiers }
        guard let trustProvider, let namespace, let serviceAccount else { return [] }
        return [WorkloadIdentifier(trustProvider: trustProvider, namespace: namespace, serviceAccount: serviceAccount)]
    }

    package func admitted(_ admission: Admission<Self>) async throws -> Self {
        let shorthand = [trustProvider, namespace, serviceAccount].compactMap { $0 }.count
        if identifiers != nil {
            guard shorthand == 0 else {
                throw ProblemDetails.invalidField(
                    "spec.identifiers",
                    "give spec.identifiers or the shorthand (spec.trustProvider, spec.namespace, "
                        + "spec.serviceAccount), not both")
            }
        } else {
            guard shorthand == 3 else {
                throw ProblemDetails.invalidField(
                    trustProvider == nil
                        ? "spec.trustProvider" : namespace == nil ? "spec.namespace" : "spec.serviceAccount",
                    "give spec.identifiers, or all three of spec.trustProvider, spec.namespace and "
                        + "spec.serviceAccount")
            }
        }
        for (index, identifier) in (identifiers ?? []).enumerated() {
            try identifier.check(at: "spec.identifiers[\(index)]")
        }
        return self
    }

    package var references: [ResourceReference] {
        if identifiers == nil, let trustProvider {
            return [ResourceReference(kind: .trustProvider, name: trustProvider, field: "spec.trustProvider")]
        }
        return effectiveIdentifiers.enumerated().map { index, identifier in
            ResourceReference(
                kind: .trustProvider, name: identifier.trustProvider,
                field: "spec.identifiers[\(index)].trustProvider")
        }
    }

    /// Two client workloads with the same identifiers would make attestation ambiguous.
    package var uniqueness: String? {
        if identifiers == nil, let trustProvider, let namespace, let serviceAccount {
            return "service account \(namespace)/\(serviceAccount) of \(trustProvider)"
        }
        return "identifiers (\(match.rawValue)) "
            + effectiveIdentifiers.map(\.description).sorted().joined(separator: "; ")
    }

    /// Whether the verified evidence identifies this workload.
    package func matches(_ evidence: [VerifiedEvidence]) -> Bool {
        let identifiers = effectiveIdentifiers
        guard !identifiers.isEmpty else { return false }
        let matched = identifiers.lazy.map { identifier in evidence.contains { identifier.matches($0) } }
        return match == .all ? matched.allSatisfy { $0 } : matched.contains(true)
    }
}
