import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import Logging
import NIOCore
import ServiceLifecycle
import SigilClient
import SigilEvents
import SigilService
import Synchronization
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

/// A stand-in issuer on loopback: its OpenID discovery document and a key set that can be rotated or broken.
final class LocalIssuer: Sendable {
    /// The JWKS it serves (JSON), or nil to fail.
    let keySet = Mutex<Data?>(nil)
    let port = Mutex<Int?>(nil)
    let fetches = Atomic<Int>(0)

    var issuer: String { "http://127.0.0.1:\(port.withLock { $0 } ?? 0)" }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.get("/.well-known/openid-configuration") { _, _ -> Response in
            let body = "{\"issuer\":\"\(self.issuer)\",\"jwks_uri\":\"\(self.issuer)/keys\"}"
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        // A key set "moved" elsewhere: redirects are not followed.
        router.get("/moved") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.location] = "\(self.issuer)/keys"
            return Response(status: .found, headers: headers)
        }
        router.get("/keys") { _, _ -> Response in
            self.fetches.add(1, ordering: .relaxed)
            guard let body = self.keySet.withLock({ $0 }) else { return Response(status: .internalServerError) }
            var headers = HTTPFields()
            headers[.cacheControl] = "max-age=3600"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: body)))
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.port.withLock { $0 = channel.localAddress?.port } },
            logger: Logger(label: "test.issuer"))
    }
}

extension ServiceAccountTokenTests {
    /// `identity`'s public key under another key id, as a JWKS document.
    func keySet(_ identity: DemoIdentity, kid: String) throws -> Data {
        var key = (try identity.jwks()["keys"] as! [[String: Any]])[0]
        key["kid"] = kid
        return try JSONSerialization.data(withJSONObject: ["keys": [key]])
    }

    @Test("keys from OIDC discovery: fetched once, a rotated-in key picked up without restart, the retired one refused")
    func discoveryAndRotation() async throws {
        let issuer = LocalIssuer()
        let group = ServiceGroup(
            configuration: .init(services: [issuer.application()], logger: Logger(label: "test.issuer")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { Task { await group.triggerGracefulShutdown() } }
            _ = try await AdminClient.waitFor("the issuer to listen") { issuer.port.withLock { $0 } }
            let second = DemoIdentity()
            let first = try keySet(identity, kid: "key-1")
            issuer.keySet.withLock { $0 = first }
            let provider = try await self.provider(
                extra: ["issuer": issuer.issuer, "oidcDiscovery": true], jwks: .some(nil))
            let verifier = JWTVerifier()
            func token(kid: String, signer: DemoIdentity) async throws -> String {
                try await self.token(
                    header: ["alg": "ES256", "kid": kid, "typ": "JWT"],
                    claims: claims().merging(["iss": issuer.issuer]) { $1 }, signWith: signer)
            }
            // Fetched on first use, then served from the cache.
            #expect(
                try await verifier.verify(token(kid: "key-1", signer: identity), providers: [provider]).namespace
                    == "demo")
            #expect(
                try await verifier.verify(token(kid: "key-1", signer: identity), providers: [provider]).namespace
                    == "demo")
            #expect(issuer.fetches.load(ordering: .relaxed) == 1)
            // Rotation: the issuer now publishes only key-2. A token naming it causes one refetch and is accepted.
            let rotated = try keySet(second, kid: "key-2")
            issuer.keySet.withLock { $0 = rotated }
            #expect(
                try await verifier.verify(token(kid: "key-2", signer: second), providers: [provider]).namespace
                    == "demo")
            #expect(issuer.fetches.load(ordering: .relaxed) == 2)
            // The retired key is refused, and a burst of unknown key ids does not become a burst of fetches.
            for _ in 0..<5 {
                await #expect(throws: AttestationRefusal.self) {
                    try await verifier.verify(token(kid: "key-1", signer: identity), providers: [provider])
                }
            }
            #expect(issuer.fetches.load(ordering: .relaxed) == 2)
            // A JWKS URL that redirects is not followed (the redirect could lead anywhere).
            let redirected = try await self.provider(
                extra: ["issuer": issuer.issuer, "jwksURL": "\(issuer.issuer)/moved"], jwks: .some(nil))
            await #expect(throws: AttestationRefusal.jwksUnavailable) {
                try await verifier.verify(token(kid: "key-2", signer: second), providers: [redirected])
            }
            // The issuer fails: the last good set keeps serving.
            issuer.keySet.withLock { $0 = nil }
            #expect(
                try await verifier.verify(token(kid: "key-2", signer: second), providers: [provider]).namespace
                    == "demo")
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    @Test("key sources are refused unless exactly one is given, and only https (or http to this machine) is fetched")
    func keySourceValidation() async throws {
        for (spec, field) in [
            (["jwksURL": "http://keys.example.com/jwks"], "spec.jwksURL"),
            (["jwksURL": "file:///etc/passwd"], "spec.jwksURL"),
            (["oidcDiscovery": true, "issuer": "http://kubernetes.default.svc"], "spec.oidcDiscovery"),
            (["jwksURL": "https://keys.example.com/jwks", "jwks": try identity.jwks()], "spec.jwks"),
        ] as [([String: Any], String)] {
            var document: [String: Any] = [
                "type": "kubernetes-service-account", "issuer": "https://k8s", "audiences": ["sigil"],
            ]
            document.merge(spec) { $1 }
            do {
                let context = try await ResourceBench.context(.identityAttestation)
                _ = try await ResourceBench.admit(
                    TrustProviderSpec.self, "cluster", try JSONValue(json: document), context: context)
                Issue.record("accepted: \(spec)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == field, "\(spec): \(problem.detail ?? "")")
            }
        }
        #expect(RemoteKeySets.maxAge("public, max-age=120") == 120)
        #expect(RemoteKeySets.maxAge("no-store") == 0)
        #expect(RemoteKeySets.maxAge("private") == nil)
    }

    @Test("key files only under SIGIL_ATTEST_JWKS_DIR: refused at admission elsewhere or when unset, and at reading")
    func keyFileDirectory() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("jwks-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let file = "\(directory)/cluster.json"
        try JSONSerialization.data(withJSONObject: try identity.jwks()).write(to: URL(fileURLWithPath: file))
        func admit(_ path: String, environment: [String: String]) async throws -> Resource<TrustProviderSpec> {
            let context = try await ResourceBench.context(.identityAttestation, environment: environment)
            return try await ResourceBench.admit(
                TrustProviderSpec.self, "cluster",
                try JSONValue(json: [
                    "type": "kubernetes-service-account", "issuer": DemoIdentity.issuer, "audiences": ["sigil"],
                    "jwksFile": path, "allowedAlgorithms": ["ES256"],
                ]), context: context)
        }
        for (path, environment) in [(file, [:]), ("/etc/passwd", ["SIGIL_ATTEST_JWKS_DIR": directory])] {
            do {
                _ = try await admit(path, environment: environment)
                Issue.record("accepted \(path) with \(environment)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == "spec.jwksFile")
            }
        }
        let admitted = try await admit(file, environment: ["SIGIL_ATTEST_JWKS_DIR": directory])
        let token = try await identity.token(namespace: "demo", serviceAccount: "billing")
        let confined = JWTVerifier(keyFileDirectory: directory)
        #expect(try await confined.verify(token, providers: [TrustProvider(admitted)]).serviceAccount == "billing")
        // A verifier without the directory (or with another) reads no file: the keys are unavailable.
        await #expect(throws: AttestationRefusal.jwksUnavailable) {
            try await JWTVerifier().verify(token, providers: [TrustProvider(admitted)])
        }
        // A symbolic link inside the directory pointing outside it is not followed out.
        let link = "\(directory)/outside.json"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: "/etc/hostname")
        let linked = try await admit(link, environment: ["SIGIL_ATTEST_JWKS_DIR": directory])
        await #expect(throws: AttestationRefusal.jwksUnavailable) {
            try await confined.verify(token, providers: [TrustProvider(linked)])
        }
    }
}
