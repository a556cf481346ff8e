import SigilEvents
import SigilService

/// An access policy: this client workload, proven by this trust provider, may reach this server workload with a
/// credential from this provider, for this long.
struct AccessPolicySpec: ResourceSpec {
    static let kind = ResourceKind.accessPolicy
    static let summary =
        "Lets one client workload, proven by one trust provider, reach one server workload with one credential."
    static let schema = SpecSchema.object(
        summary,
        [
            .init("clientWorkload", SpecSchema.reference, required: true, "The ClientWorkload allowed."),
            .init("serverWorkload", SpecSchema.reference, required: true, "The ServerWorkload it may reach."),
            .init(
                "trustProvider", SpecSchema.reference, required: true,
                "The TrustProvider whose evidence must have identified the client."),
            .init(
                "credentialProvider", SpecSchema.reference, required: true,
                "The CredentialProvider whose credential the edge injects."),
            .init(
                "ttlSeconds", .integer(minimum: 10, maximum: 86_400), default: 300,
                "How long an issued credential lives."),
        ])

    var clientWorkload: String
    var serverWorkload: String
    var trustProvider: String
    var credentialProvider: String
    var ttlSeconds: Int

    var references: [ResourceReference] {
        [
            ResourceReference(kind: .clientWorkload, name: clientWorkload, field: "spec.clientWorkload"),
            ResourceReference(kind: .serverWorkload, name: serverWorkload, field: "spec.serverWorkload"),
            ResourceReference(kind: .trustProvider, name: trustProvider, field: "spec.trustProvider"),
            ResourceReference(kind: .credentialProvider, name: credentialProvider, field: "spec.credentialProvider"),
        ]
    }

    /// Two policies for the same client, trust provider and server would leave the decision to chance.
    var uniqueness: String? {
        "a policy for \(clientWorkload) (proven by \(trustProvider)) reaching \(serverWorkload)"
    }
}
