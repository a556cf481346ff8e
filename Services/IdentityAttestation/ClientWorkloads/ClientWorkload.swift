import SigilEvents
import SigilService

/// A client workload: the identity a verified service account maps to.
struct ClientWorkload: Sendable {
    let name: String
    let trustProvider: String
    let namespace: String
    let serviceAccount: String

    static func validate(_ spec: JSONValue) throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly(["trustProvider", "namespace", "serviceAccount"])
        return .object([
            "trustProvider": .string(try reader.string("trustProvider")),
            "namespace": .string(try reader.string("namespace")),
            "serviceAccount": .string(try reader.string("serviceAccount")),
        ])
    }

    init?(_ resource: StoredResource) {
        guard let trustProvider = resource.spec["trustProvider"]?.stringValue,
            let namespace = resource.spec["namespace"]?.stringValue,
            let serviceAccount = resource.spec["serviceAccount"]?.stringValue
        else { return nil }
        self.name = resource.name
        self.trustProvider = trustProvider
        self.namespace = namespace
        self.serviceAccount = serviceAccount
    }

    func matches(_ identity: VerifiedServiceAccount) -> Bool {
        trustProvider == identity.trustProvider && namespace == identity.namespace
            && serviceAccount == identity.serviceAccount
    }
}
