import SigilClient
import SigilEvents

extension TrustProviderTypesEndToEndTests {
    /// A server workload at 127.0.0.1:`port` under `prefix`, and the policy letting the deployer (GitHub Actions
    /// evidence) reach it with `provider`: how each credential provider step gives the API its own part.
    func deployerRoute(
        _ name: String, port: Int, prefix: String, provider: String, scheme: String = "http", ca: String? = nil
    ) -> [ResourceDocument] {
        var spec: [String: JSONValue] = [
            "scheme": .string(scheme), "host": "127.0.0.1", "port": .number(Double(port)),
            "pathPrefix": .string(prefix),
        ]
        if let ca { spec["ca"] = .string(ca) }
        return [
            .init(kind: .serverWorkload, name: name, spec: .object(spec)),
            .init(
                kind: .accessPolicy, name: "deployer-\(name)",
                spec: [
                    "clientWorkload": "deployer", "serverWorkload": .string(name), "trustProvider": "github",
                    "credentialProvider": .string(provider),
                ]),
        ]
    }
}
