import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilClient
import SigilCrypto
import SigilEvents
import Testing
import X509

@testable import AuditIngestion
@testable import CredentialIssuance
@testable import IdentityAttestation
@testable import PolicyDecision
@testable import SigilService

/// The kinds of the other services: each refuses what would weaken it, naming the field, and keeps its secrets.
@Suite("Kinds: trust providers, client workloads, credential providers, log streams")
struct KindAdmissionTests {
    typealias Bench = ResourceBench

    func put(
        _ client: some TestClientProtocol, _ kind: ResourceKind, _ name: String, _ spec: JSONValue,
        token: String = Bench.adminToken
    ) async throws -> Bench.Answer {
        try await Bench.send(
            client, .put, "/v1/\(kind.pathComponent)/\(name)", body: Bench.document(kind, name, spec), token: token)
    }

    static let jwks: JSONValue = [
        "keys": [
            [
                "kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256",
                "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
            ]
        ]
    ]
    static let cluster: JSONValue = [
        "type": "kubernetes-service-account", "issuer": "https://k8s.example", "audiences": ["sigil"], "jwks": jwks,
    ]

    /// JSON nested `depth` arrays deep.
    static func nested(_ depth: Int) -> JSONValue {
        (0..<depth).reduce(JSONValue.number(1)) { inner, _ in [inner] }
    }

    @Test("trust providers and client workloads: types, algorithms, key sets, references, one workload per identity")
    func attestationKinds() async throws {
        let bench = try await Bench(.identityAttestation)
        try await bench.application().test(.router) { client in
            let refusals: [(JSONValue, String)] = [
                (Self.cluster.merging(["type": "oidc"]), "spec.type"),
                (Self.cluster.merging(["allowedAlgorithms": ["none"]]), "spec.allowedAlgorithms[0]"),
                (Self.cluster.merging(["allowedAlgorithms": ["HS256"]]), "spec.allowedAlgorithms[0]"),
                (Self.cluster.merging(["audiences": []]), "spec.audiences"),
                (Self.cluster.merging(["jwks": ["keys": []]]), "spec.jwks"),
                (Self.cluster.merging(["jwksFile": "/etc/jwks.json"]), "spec.jwks"),
                (Self.cluster.merging(["jwksFile": "relative.json", "jwks": .null]), "spec.jwksFile"),
                (Self.cluster.merging(["jwksFile": "/etc/../root/jwks.json", "jwks": .null]), "spec.jwksFile"),
                (Self.cluster.merging(["clockSkewSeconds": 3600]), "spec.clockSkewSeconds"),
                (Self.cluster.merging(["audience": "typo"]), "spec.audience"),
                (Self.cluster.merging(["jwks": ["keys": [Self.nested(20)]]]), "spec.jwks"),
            ]
            for (spec, field) in refusals {
                let answer = try await put(client, .trustProvider, "cluster", spec)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .trustProvider, "cluster", Self.cluster)
            #expect(created.status == .created)
            #expect(created.body["spec"]?["clockSkewSeconds"] == 30)
            #expect(created.body["spec"]?["allowedAlgorithms"] == ["RS256", "ES256"])
            let workload: JSONValue = ["trustProvider": "cluster", "namespace": "demo", "serviceAccount": "billing"]
            let unknown = try await put(client, .clientWorkload, "billing", workload.merging(["trustProvider": "gone"]))
            #expect(unknown.type == "urn:sigil:problem:unknown-reference")
            #expect(unknown.field == "spec.trustProvider")
            #expect(try await put(client, .clientWorkload, "billing", workload).status == .created)
            let twin = try await put(client, .clientWorkload, "billing-2", workload)
            #expect(twin.status == .conflict)
            #expect(twin.detail.contains("ClientWorkload billing already has service account demo/billing of cluster"))
            let inUse = try await Bench.send(client, .delete, "/v1/trust-providers/cluster")
            #expect(inUse.status == .conflict)
            #expect(inUse.detail.contains("ClientWorkload/billing"))
            let badNamespace = try await put(client, .clientWorkload, "x", workload.merging(["namespace": "Demo_1"]))
            #expect(badNamespace.field == "spec.namespace")
        }
    }

    @Test("log streams: files only under SIGIL_AUDIT_FILE_DIR, TLS options only with tls, https, secrets never shown")
    func logStreams() async throws {
        @Sendable func stream(_ destination: JSONValue, format: String = "json") -> JSONValue {
            ["destination": destination, "format": .string(format)]
        }
        let off = try await Bench(.auditIngestion)
        try await off.application().test(.router) { client in
            let answer = try await put(client, .logStream, "soc", stream(["type": "file", "path": "audit.jsonl"]))
            #expect(answer.status == .unprocessableContent)
            #expect(answer.detail.contains("SIGIL_AUDIT_FILE_DIR"), "\(answer.detail)")
        }
        let kek = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let bench = try await Bench(
            .auditIngestion, environment: ["SIGIL_AUDIT_FILE_DIR": "/var/log/sigil", "SIGIL_AUDIT_KEK": kek])
        try await bench.application().test(.router) { client in
            for (path, expected) in [
                ("/etc/passwd", HTTPResponse.Status.unprocessableContent), ("../etc/passwd", .unprocessableContent),
                ("a/../../b", .unprocessableContent), ("a//b", .unprocessableContent), ("./a", .unprocessableContent),
                ("soc/audit.jsonl", .created),
            ] {
                let answer = try await put(client, .logStream, "soc", stream(["type": "file", "path": .string(path)]))
                #expect(answer.status == expected, "\(path): \(answer.detail)")
            }
            let refusals: [(JSONValue, String)] = [
                (["type": "syslog", "transport": "tcp", "host": "siem.example", "port": 6514, "ca": "x"], "ca"),
                (["type": "syslog", "transport": "tls", "host": "siem.example", "port": 6514, "ca": "x"], "ca"),
                (["type": "syslog", "transport": "smtp", "host": "siem.example", "port": 25], "transport"),
                (["type": "syslog", "transport": "udp", "host": "siem example", "port": 514], "host"),
                (["type": "syslog", "transport": "udp", "host": "siem.example", "port": 70000], "port"),
                (["type": "carrier-pigeon"], "type"),
            ]
            for (destination, field) in refusals {
                let answer = try await put(client, .logStream, "bad", stream(destination))
                #expect(answer.status == .unprocessableContent, "\(destination)")
                #expect(answer.field == "spec.destination.\(field)", "\(destination): \(answer.detail)")
            }
            let wrongFormat = try await put(
                client, .logStream, "bad",
                stream(["type": "syslog", "transport": "udp", "host": "127.0.0.1", "port": 514], format: "xml"))
            #expect(wrongFormat.field == "spec.format")
            let syslog = try await put(
                client, .logStream, "soc-syslog",
                [
                    "destination": ["type": "syslog", "transport": "tcp", "host": "siem.example", "port": 6514],
                    "format": "rfc5424", "filter": ["outcomes": ["denied", "refused"]],
                ])
            #expect(syslog.status == .created, "\(syslog.detail)")

            // A client certificate for TLS receivers: its key must be its own, is encrypted, never shown.
            let pki = try DemoPKI()
            let sender = try pki.workload(path: "/sigil-audit")
            let other = try pki.workload(path: "/someone-else")
            @Sendable func mutualTLS(_ extra: [String: JSONValue]) -> JSONValue {
                var destination: [String: JSONValue] = [
                    "type": "syslog", "transport": "tls", "host": "siem.example", "port": 6514,
                ]
                destination.merge(extra) { $1 }
                return stream(.object(destination), format: "rfc5424")
            }
            let certificate = JSONValue.string(sender.chainPEM)
            let clientRefusals: [(JSONValue, String)] = [
                (
                    ["type": "syslog", "transport": "tcp", "host": "s", "port": 1, "clientCertificate": certificate],
                    "clientCertificate"
                ),
                (mutualTLS(["clientKey": .string(sender.keyPEM)]), "clientCertificate"),
                (
                    mutualTLS(["clientCertificate": "not a certificate", "clientKey": .string(sender.keyPEM)]),
                    "clientCertificate"
                ),
                (mutualTLS(["clientCertificate": certificate]), "clientKey"),
                (mutualTLS(["clientCertificate": certificate, "clientKey": "not a key"]), "clientKey"),
                (mutualTLS(["clientCertificate": certificate, "clientKey": .string(other.keyPEM)]), "clientKey"),
            ]
            for (document, field) in clientRefusals {
                let spec = document["destination"] == nil ? stream(document) : document
                let answer = try await put(client, .logStream, "bad", spec)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == "spec.destination.\(field)", "\(field): \(answer.detail)")
                #expect(!answer.detail.contains("PRIVATE KEY"))
            }
            let mutual = try await put(
                client, .logStream, "soc-mtls",
                mutualTLS(["clientCertificate": certificate, "clientKey": .string(sender.keyPEM)]))
            #expect(mutual.status == .created, "\(mutual.detail)")
            #expect(!"\(mutual.body)".contains("PRIVATE KEY") && "\(mutual.body)".contains("clientKeyEncrypted"))
            // Applied again as shown (`sigil get -o yaml`): the encrypted key is taken back and checked again.
            let shownDestination = try #require(mutual.body["spec"]?["destination"])
            let again = try await put(
                client, .logStream, "soc-mtls", ["destination": shownDestination, "format": "rfc5424"])
            #expect(again.status == .ok, "\(again.detail)")
            guard case .object(var otherCertificate) = shownDestination else { throw CancellationError() }
            otherCertificate["clientCertificate"] = .string(other.chainPEM)
            let mismatched = try await put(
                client, .logStream, "soc-mtls", ["destination": .object(otherCertificate), "format": "rfc5424"])
            #expect(mismatched.field == "spec.destination.clientKey", "\(mismatched.detail)")
            for event in bench.log.events {
                #expect(!String(decoding: event.data, as: UTF8.self).contains("PRIVATE KEY"))
            }

            // HTTP destinations: https (http only to this host); secrets encrypted, never shown.
            let token = "hec-token-\(UUID().uuidString)"
            let plain = try await put(
                client, .logStream, "splunk",
                stream(["type": "splunk-hec", "url": "http://splunk.example:8088", "token": .string(token)]))
            #expect(plain.field == "spec.destination.url", "\(plain.detail)")
            let hec = try await put(
                client, .logStream, "splunk",
                stream(["type": "splunk-hec", "url": "https://splunk.example:8088", "token": .string(token)]))
            #expect(hec.status == .created, "\(hec.detail)")
            let shown = "\(hec.body)"
            #expect(!shown.contains(token) && shown.contains("tokenEncrypted"))
            let noSecret = try await put(
                client, .logStream, "hook", stream(["type": "webhook", "url": "https://hooks.example/sigil"]))
            #expect(noSecret.field == "spec.destination.secret", "\(noSecret.detail)")
            let short = try await put(
                client, .logStream, "hook",
                stream(["type": "webhook", "url": "https://hooks.example/sigil", "secret": "short"]))
            #expect(short.field == "spec.destination.secret", "\(short.detail)")
            for event in bench.log.events { #expect(!String(decoding: event.data, as: UTF8.self).contains(token)) }
        }
        // Other tenants' records: only for streams of the platform tenant (SIGIL_PLATFORM_TENANT).
        let everyTenant: JSONValue = [
            "destination": ["type": "syslog", "transport": "udp", "host": "127.0.0.1", "port": 514],
            "filter": ["tenants": ["*"]],
        ]
        try await bench.application().test(.router) { client in
            let answer = try await put(client, .logStream, "operator", everyTenant)
            #expect(answer.field == "spec.filter.tenants" && answer.detail.contains("SIGIL_PLATFORM_TENANT"))
        }
        for (platform, expected) in [("globex", HTTPResponse.Status.unprocessableContent), ("acme", .created)] {
            let operatorBench = try await Bench(.auditIngestion, environment: ["SIGIL_PLATFORM_TENANT": platform])
            try await operatorBench.application().test(.router) { client in
                let answer = try await put(client, .logStream, "operator", everyTenant)
                #expect(answer.status == expected, "\(platform): \(answer.detail)")
                let named: JSONValue = [
                    "destination": everyTenant["destination"]!, "filter": ["tenants": ["acme", "Not A Tenant"]],
                ]
                let badName = try await put(client, .logStream, "named", named)
                #expect(badName.field == "spec.filter.tenants[1]", "\(badName.detail)")
            }
        }
        // Without SIGIL_AUDIT_KEK, a destination with a secret is refused: it could not be kept.
        try await off.application().test(.router) { client in
            let answer = try await put(
                client, .logStream, "splunk",
                stream(["type": "splunk-hec", "url": "https://splunk.example:8088", "token": "t"]))
            #expect(
                answer.status == .unprocessableContent && answer.detail.contains("SIGIL_AUDIT_KEK"), "\(answer.detail)")
        }
    }

    @Test("posture feeds: https (http to this host only), the client secret encrypted and never shown, no KEK refused")
    func postureFeeds() async throws {
        let secret = "cs-" + UUID().uuidString
        let feed: JSONValue = [
            "type": "crowdstrike", "url": "https://api.crowdstrike.com", "clientID": "sigil",
            "clientSecret": .string(secret),
        ]
        let off = try await Bench(.policyDecision)
        try await off.application().test(.router) { client in
            let answer = try await put(client, .postureFeed, "falcon", feed)
            #expect(
                answer.status == .unprocessableContent && answer.detail.contains("SIGIL_POLICY_KEK"), "\(answer.detail)"
            )
        }
        let kek = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let bench = try await Bench(.policyDecision, environment: ["SIGIL_POLICY_KEK": kek])
        try await bench.application().test(.router) { client in
            guard case .object(var fields) = feed else { return }
            fields["url"] = "http://api.crowdstrike.com"
            let plain = try await put(client, .postureFeed, "falcon", .object(fields))
            #expect(plain.field == "spec.url", "\(plain.detail)")
            fields["url"] = "https://api.crowdstrike.com"
            fields["type"] = "qualys"
            #expect(try await put(client, .postureFeed, "falcon", .object(fields)).field == "spec.type")
            let created = try await put(client, .postureFeed, "falcon", feed)
            #expect(created.status == .created, "\(created.detail)")
            #expect(!"\(created.body)".contains(secret) && "\(created.body)".contains("clientSecretEncrypted"))
            for event in bench.log.events { #expect(!String(decoding: event.data, as: UTF8.self).contains(secret)) }
        }
    }
}
