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

    @Test("oauth2 client credentials: the secret encrypted and never shown, https token endpoints, one scope each")
    func oauth2Providers() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try IssuanceParts.keyring.get(bench.context).remember(TenantDataKey(tenant: "acme"))
        let secret = "cs_" + UUID().uuidString
        let spec: JSONValue = [
            "type": "oauth2-client-credentials", "tokenURL": "https://auth.example/oauth/token", "clientID": "sigil",
            "clientSecret": .string(secret), "scopes": ["ledger.read"],
        ]
        try await bench.application().test(.router) { client in
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["tokenURL": "http://auth.example/oauth/token"]), "spec.tokenURL"),
                (spec.merging(["scopes": ["read write"]]), "spec.scopes[0]"),
                (spec.merging(["clientSecret": .null]), "spec.clientSecret"),
                (spec.merging(["clientAuthentication": "private_key_jwt"]), "spec.clientAuthentication"),
                (spec.merging(["inject": "header"]), "spec.header"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "ledger-oauth", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .credentialProvider, "ledger-oauth", spec)
            #expect(created.status == .created, "\(created.detail)")
            #expect(!"\(created.body)".contains(secret) && "\(created.body)".contains("clientSecretEncrypted"))
            for event in bench.log.events { #expect(!String(decoding: event.data, as: UTF8.self).contains(secret)) }
        }
    }

    @Test("jwt providers: claims Sigil sets are refused, a claim is a value or an attested claim, SVIDs need a domain")
    func jwtProviders() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try await bench.application().test(.router) { client in
            let spec: JSONValue = [
                "type": "jwt", "audience": ["ledger"], "claims": ["team": ["value": "payments"]],
            ]
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["audience": []]), "spec.audience"),
                (spec.merging(["claims": ["sub": ["value": "root"]]]), "spec.claims.sub"),
                (spec.merging(["claims": ["exp": ["value": "9999999999"]]]), "spec.claims.exp"),
                (spec.merging(["claims": ["team": ["value": "a", "claim": "b"]]]), "spec.claims.team"),
                (spec.merging(["claims": ["team": [:]]]), "spec.claims.team"),
                (spec.merging(["profile": "jwt-svid"]), "spec.trustDomain"),
                (spec.merging(["trustDomain": "acme.test"]), "spec.trustDomain"),
                (spec.merging(["header": "X-Token"]), "spec.header"),
                (spec.merging(["inject": "header"]), "spec.header"),
                (spec.merging(["algorithm": "HS256"]), "spec.algorithm"),
                (spec.merging(["ttlSeconds": 7200]), "spec.ttlSeconds"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "ledger-jwt", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(
                client, .credentialProvider, "ledger-jwt",
                spec.merging(["profile": "jwt-svid", "trustDomain": "acme.test", "algorithm": "EdDSA"]))
            #expect(created.status == .created, "\(created.detail)")
        }
    }

    @Test("aws-sts-web-identity providers: role ARNs, regions, durations STS takes; unsigned payloads only for S3")
    func awsProviders() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try await bench.application().test(.router) { client in
            let spec: JSONValue = [
                "type": "aws-sts-web-identity", "roleARN": "arn:aws:iam::123456789012:role/orders-reader",
                "region": "eu-west-1", "service": "s3",
            ]
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["roleARN": "arn:aws:iam::123456789012:user/alice"]), "spec.roleARN"),
                (spec.merging(["roleARN": "arn:aws:iam::1234:role/x"]), "spec.roleARN"),
                (spec.merging(["region": "Europe"]), "spec.region"),
                (spec.merging(["service": "S3 "]), "spec.service"),
                (spec.merging(["durationSeconds": 600]), "spec.durationSeconds"),
                (spec.merging(["durationSeconds": 43_201]), "spec.durationSeconds"),
                (spec.merging(["service": "execute-api", "payload": "unsigned"]), "spec.payload"),
                (spec.merging(["stsEndpoint": "http://sts.example.com/"]), "spec.stsEndpoint"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "orders", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .credentialProvider, "orders", spec.merging(["payload": "unsigned"]))
            #expect(created.status == .created, "\(created.detail)")
            #expect("\(created.body)".contains("sts.amazonaws.com") && "\(created.body)".contains("3600"), "defaults")
        }
    }

    @Test("x509 providers: an imported CA must be a CA, unexpired, with its own key; the key encrypted, never shown")
    func x509Providers() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try IssuanceParts.keyring.get(bench.context).remember(TenantDataKey(tenant: "acme"))
        let pki = try DemoPKI()
        let leaf = try pki.workload(path: "/not-a-ca")
        let other = try pki.workload(path: "/other")
        let caKey = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("Imported CA") }
        func ca(until: Date) throws -> String {
            try Certificate(
                version: .v3, serialNumber: .init(), publicKey: .init(caKey.publicKey), notValidBefore: until - 86_400,
                notValidAfter: until, issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                },
                issuerPrivateKey: .init(caKey)
            ).serializeAsPEM().pemString
        }
        let valid = try ca(until: Date() + 86_400)
        let expired = try ca(until: Date() - 60)
        let leafPEM = try leaf.certificate.serializeAsPEM().pemString
        try await bench.application().test(.router) { client in
            let spec: JSONValue = ["type": "x509", "trustDomain": "acme.test"]
            let refusals: [(JSONValue, String, String)] = [
                (spec.merging(["caKey": .string(caKey.pemRepresentation)]), "spec.caCertificate", "needs"),
                (spec.merging(["caCertificate": "nope", "caKey": "x"]), "spec.caCertificate", "PEM"),
                (
                    spec.merging(["caCertificate": .string(leafPEM), "caKey": .string(leaf.keyPEM)]),
                    "spec.caCertificate", "not a CA"
                ),
                (
                    spec.merging([
                        "caCertificate": .string(expired), "caKey": .string(caKey.pemRepresentation),
                    ]),
                    "spec.caCertificate", "expired"
                ),
                (
                    spec.merging(["caCertificate": .string(valid), "caKey": .string(other.keyPEM)]), "spec.caKey",
                    "private key of spec.caCertificate"
                ),
            ]
            for (refused, field, says) in refusals {
                let answer = try await put(client, .credentialProvider, "ledger-mtls", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field && answer.detail.contains(says), "\(answer.detail)")
            }
            let created = try await put(
                client, .credentialProvider, "ledger-mtls",
                spec.merging(["caCertificate": .string(valid), "caKey": .string(caKey.pemRepresentation)]))
            #expect(created.status == .created, "\(created.detail)")
            #expect("\(created.body)".contains("caKeyEncrypted") && !"\(created.body)".contains("PRIVATE KEY"))
        }
    }

    @Test("credential providers: the secret is encrypted at admission, never shown, and re-applying it changes nothing")
    func credentialProviders() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        // The tenant's data key exists already (creating one publishes it to the bus, which this test has not).
        let keyring = try IssuanceParts.keyring.get(bench.context)
        keyring.remember(TenantDataKey(tenant: "acme"))
        try await bench.application().test(.router) { client in
            let secret = "sk_live_0123456789"
            let spec: JSONValue = [
                "type": "static", "inject": "header", "header": "X-API-Key", "value": .string(secret),
            ]
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["header": .null]), "spec.header"),
                (spec.merging(["header": "X API Key"]), "spec.header"),
                (spec.merging(["inject": "bearer"]), "spec.header"),
                (spec.merging(["value": "line\r\nInjected: yes"]), "spec.value"),
                (spec.merging(["value": .string(String(repeating: "a", count: 9000))]), "spec.value"),
                (spec.merging(["value": .null]), "spec.value"),
                (spec.merging(["type": "vault"]), "spec.type"),
                (spec.merging(["inject": "basic", "header": .null, "value": "no-colon"]), "spec.value"),
                (spec.merging(["inject": "basic", "header": .null, "value": ":password-only"]), "spec.value"),
                (spec.merging(["inject": "query", "header": .null]), "spec.parameter"),
                (spec.merging(["inject": "query", "header": .null, "parameter": "a&b"]), "spec.parameter"),
                (spec.merging(["inject": "bearer", "header": .null, "prefix": "Token "]), "spec.prefix"),
                (spec.merging(["parameter": "api_key"]), "spec.parameter"),
                (spec.merging(["prefix": "Token\n"]), "spec.prefix"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "api-key", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .credentialProvider, "api-key", spec)
            #expect(created.status == .created)
            #expect(created.body["spec"]?["value"] == nil)
            let encrypted = try #require(created.body["spec"]?["valueEncrypted"]?.stringValue)
            #expect(!encrypted.contains(secret))
            // The plaintext again, or the document as read: unchanged, the same ciphertext.
            #expect(try await put(client, .credentialProvider, "api-key", spec).change == "unchanged")
            let read = try await Bench.send(client, .get, "/v1/credential-providers/api-key", token: Bench.auditorToken)
            #expect(read.body["spec"]?["valueEncrypted"]?.stringValue == encrypted)
            #expect(
                try await Bench.send(client, .put, "/v1/credential-providers/api-key", body: read.body).change
                    == "unchanged")
            // A ciphertext cannot be moved to another provider (it is bound to its name).
            var moved = Bench.document(.credentialProvider, "other", read.body["spec"]!)
            moved = moved.merging(["metadata": ["name": "other"]])
            let refused = try await Bench.send(client, .put, "/v1/credential-providers/other", body: moved)
            #expect(refused.field == "spec.valueEncrypted")
            // A new secret is a change.
            #expect(
                try await put(client, .credentialProvider, "api-key", spec.merging(["value": "rotated-1"])).change
                    == "updated")
            for event in bench.log.events {
                #expect(!String(decoding: event.data, as: UTF8.self).contains(secret))
            }
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
