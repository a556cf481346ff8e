import Crypto
import Foundation
import HummingbirdTesting
import SigilClient
import SigilCrypto
import SigilEvents
import Testing
import X509

@testable import CredentialIssuance
@testable import SigilService

/// The credential provider types' admission: each refuses what would weaken it, naming the field, and keeps its
/// secrets (part of `KindAdmissionTests`).
extension KindAdmissionTests {
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

    @Test("postgres-static: a role name PostgreSQL takes, the password encrypted and never shown")
    func postgresStatic() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try IssuanceParts.keyring.get(bench.context).remember(TenantDataKey(tenant: "acme"))
        let password = "pg_" + UUID().uuidString
        let spec: JSONValue = ["type": "postgres-static", "user": "orders_app", "password": .string(password)]
        try await bench.application().test(.router) { client in
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["user": "orders app"]), "spec.user"),
                (spec.merging(["user": "x\u{0}y"]), "spec.user"),
                (spec.merging(["user": .string(String(repeating: "a", count: 64))]), "spec.user"),
                (spec.merging(["password": .null]), "spec.password"),
                (spec.merging(["password": ""]), "spec.password"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "orders-db", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .credentialProvider, "orders-db", spec)
            #expect(created.status == .created, "\(created.detail)")
            #expect(!"\(created.body)".contains(password) && "\(created.body)".contains("passwordEncrypted"))
            for event in bench.log.events { #expect(!String(decoding: event.data, as: UTF8.self).contains(password)) }
        }
    }

    @Test("postgres-dynamic: a grants template that grants nothing, repeats or names what is no privilege is refused")
    func postgresDynamic() async throws {
        let kek = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        let bench = try await Bench(.credentialIssuance, environment: ["SIGIL_KEK": kek])
        try IssuanceParts.keyring.get(bench.context).remember(TenantDataKey(tenant: "acme"))
        let password = "admin_" + UUID().uuidString
        let spec: JSONValue = [
            "type": "postgres-dynamic", "host": "db.internal", "database": "orders", "adminUser": "sigil_admin",
            "adminPassword": .string(password),
            "grants": ["roles": ["orders_reader"], "schemas": [["name": "public", "tables": ["SELECT"]]]],
        ]
        try await bench.application().test(.router) { client in
            let refusals: [(JSONValue, String)] = [
                (spec.merging(["grants": [:]]), "spec.grants"),
                (spec.merging(["grants": ["roles": ["orders_reader", "orders_reader"]]]), "spec.grants.roles"),
                (spec.merging(["grants": ["roles": ["orders reader"]]]), "spec.grants.roles[0]"),
                (
                    spec.merging(["grants": ["schemas": [["name": "public", "tables": ["DROP"]]]]]),
                    "spec.grants.schemas[0].tables[0]"
                ),
                (spec.merging(["grants": ["schemas": [["name": "public"]]]]), "spec.grants.schemas[0]"),
                (
                    spec.merging([
                        "grants": [
                            "schemas": [
                                ["name": "a", "privileges": ["USAGE"]], ["name": "a", "privileges": ["USAGE"]],
                            ]
                        ]
                    ]),
                    "spec.grants.schemas[1].name"
                ),
                (spec.merging(["grants": .null]), "spec.grants"),
                (spec.merging(["sslmode": "disable", "ca": "x"]), "spec.ca"),
                (spec.merging(["ttlSeconds": 5]), "spec.ttlSeconds"),
                (spec.merging(["adminPassword": .null]), "spec.adminPassword"),
            ]
            for (refused, field) in refusals {
                let answer = try await put(client, .credentialProvider, "orders-lease", refused)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let created = try await put(client, .credentialProvider, "orders-lease", spec)
            #expect(created.status == .created, "\(created.detail)")
            #expect(created.body["spec"]?["port"] == 5432 && created.body["spec"]?["sslmode"] == "verify-full")
            #expect(!"\(created.body)".contains(password) && "\(created.body)".contains("adminPasswordEncrypted"))
            for event in bench.log.events { #expect(!String(decoding: event.data, as: UTF8.self).contains(password)) }
        }
    }
}
