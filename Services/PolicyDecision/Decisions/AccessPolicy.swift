import SigilEvents
import SigilService

/// An access policy: this client workload, proven by this trust provider, may reach this server workload with a
/// credential from this provider, for this long.
struct AccessPolicy: Sendable {
    let name: String
    let clientWorkload: String
    let serverWorkload: String
    let trustProvider: String
    let credentialProvider: String
    let ttlSeconds: Int

    static func validate(_ spec: JSONValue) throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly(["clientWorkload", "serverWorkload", "trustProvider", "credentialProvider", "ttlSeconds"])
        return .object([
            "clientWorkload": .string(try reader.string("clientWorkload")),
            "serverWorkload": .string(try reader.string("serverWorkload")),
            "trustProvider": .string(try reader.string("trustProvider")),
            "credentialProvider": .string(try reader.string("credentialProvider")),
            "ttlSeconds": .number(Double(try reader.int("ttlSeconds", in: 10...86_400, default: 300))),
        ])
    }

    init?(_ resource: StoredResource) {
        let spec = resource.spec
        guard let clientWorkload = spec["clientWorkload"]?.stringValue,
            let serverWorkload = spec["serverWorkload"]?.stringValue,
            let trustProvider = spec["trustProvider"]?.stringValue,
            let credentialProvider = spec["credentialProvider"]?.stringValue, case .number(let ttl) = spec["ttlSeconds"]
        else { return nil }
        self.name = resource.name
        self.clientWorkload = clientWorkload
        self.serverWorkload = serverWorkload
        self.trustProvider = trustProvider
        self.credentialProvider = credentialProvider
        self.ttlSeconds = Int(ttl)
    }
}
