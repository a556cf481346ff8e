import SigilEvents
import SigilService

/// A client workload: the identity that verified evidence maps to (today, one Kubernetes service account).
struct ClientWorkloadSpec: ResourceSpec {
    static let kind = ResourceKind.clientWorkload
    static let summary = "A workload that calls APIs, identified by evidence a trust provider verifies."
    static let schema = SpecSchema.object(
        summary,
        [
            .init("trustProvider", SpecSchema.reference, required: true, "The TrustProvider that verifies it."),
            .init(
                "namespace", .string(maxLength: 63, pattern: SpecSchema.dnsLabel), required: true,
                "Its Kubernetes namespace."),
            .init(
                "serviceAccount",
                .string(
                    maxLength: 253,
                    pattern: (
                        regex: "^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$",
                        meaning: "a Kubernetes service account name (lower-case DNS subdomain)"
                    )), required: true, "Its Kubernetes service account."),
        ])

    var trustProvider: String
    var namespace: String
    var serviceAccount: String

    var references: [ResourceReference] {
        [ResourceReference(kind: .trustProvider, name: trustProvider, field: "spec.trustProvider")]
    }

    /// Two client workloads for one identity would make attestation ambiguous.
    var uniqueness: String? { "service account \(namespace)/\(serviceAccount) of \(trustProvider)" }

    func matches(_ identity: VerifiedServiceAccount) -> Bool {
        trustProvider == identity.trustProvider && namespace == identity.namespace
            && serviceAccount == identity.serviceAccount
    }
}
