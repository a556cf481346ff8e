import Foundation
import SigilEvents

/// The demo's resources: a trust provider for the stand-in cluster, two client workloads (`billing`, allowed;
/// `reporting`, not), the protected API as a server workload, its API key as a static credential provider, and the
/// one access policy.
public enum DemoConfiguration {
    public static let serverWorkload = "demo-reports"

    public static func documents(
        identity: DemoIdentity, upstreamHost: String = "127.0.0.1", upstreamPort: Int, apiKey: String
    ) throws -> [ResourceDocument] {
        let specs: [(ResourceKind, String, [String: Any])] = [
            (
                .trustProvider, "demo-cluster",
                [
                    "type": "kubernetes-service-account", "issuer": DemoIdentity.issuer,
                    "audiences": [DemoIdentity.audience],
                    "jwks": try identity.jwks(), "allowedAlgorithms": ["ES256"],
                ]
            ),
            (
                .clientWorkload, "billing",
                ["trustProvider": "demo-cluster", "namespace": "demo", "serviceAccount": "billing"]
            ),
            (
                .clientWorkload, "reporting",
                ["trustProvider": "demo-cluster", "namespace": "demo", "serviceAccount": "reporting"]
            ),
            (.serverWorkload, serverWorkload, ["scheme": "http", "host": upstreamHost, "port": upstreamPort]),
            (
                .credentialProvider, "demo-reports-key",
                ["type": "static", "inject": "header", "header": "X-API-Key", "value": apiKey]
            ),
            (
                .accessPolicy, "billing-reads-reports",
                [
                    "clientWorkload": "billing", "serverWorkload": serverWorkload, "trustProvider": "demo-cluster",
                    "credentialProvider": "demo-reports-key", "ttlSeconds": 300,
                ]
            ),
        ]
        return try specs.map { kind, name, spec in
            ResourceDocument(
                kind: kind, name: name, labels: ["app.sigil.dev/part-of": "demo"], spec: try .init(json: spec))
        }
    }

    /// One server workload (`cold-N`, on 127.0.0.1 at the port) and one policy letting `billing` reach it with the
    /// demo's key, per port: requests to different ports need different credentials, so they are cold flows at once.
    public static func coldFlowDocuments(ports: [Int]) -> [ResourceDocument] {
        ports.enumerated().flatMap { index, port -> [ResourceDocument] in
            let name = "cold-\(index)"
            return [
                ResourceDocument(
                    kind: .serverWorkload, name: name,
                    spec: ["scheme": "http", "host": "127.0.0.1", "port": .number(Double(port))]),
                ResourceDocument(
                    kind: .accessPolicy, name: "billing-\(name)",
                    spec: [
                        "clientWorkload": "billing", "serverWorkload": .string(name), "trustProvider": "demo-cluster",
                        "credentialProvider": "demo-reports-key", "ttlSeconds": 3600,
                    ]),
            ]
        }
    }
}
