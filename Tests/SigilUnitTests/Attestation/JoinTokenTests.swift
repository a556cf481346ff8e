import Foundation
import SigilEvents
import SigilService
import Synchronization
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

/// Join tokens taken in memory, as the PostgreSQL store takes them (the integration tests check the store itself).
final class MemoryJoinTokens: JoinTokenRedeemer {
    struct Entry {
        let token: JoinToken
        let trustProvider: String
        let name: String
        let expiresAt: Date
        var usedBy: String?
    }
    let entries = Mutex<[String: Entry]>([:])

    func add(_ token: JoinToken, trustProvider: String, name: String, expiresAt: Date = Date() + 3600) {
        entries.withLock {
            $0[token.id] = Entry(token: token, trustProvider: trustProvider, name: name, expiresAt: expiresAt)
        }
    }

    func redeem(_ token: JoinToken, tenant: String, requestID: String) async throws -> JoinTokenRedemption {
        entries.withLock { entries in
            guard var entry = entries[token.id], entry.token == token else { return .unknown }
            if let usedBy = entry.usedBy, usedBy != requestID { return .alreadyUsed }
            guard entry.expiresAt > Date() else { return .expired }
            entry.usedBy = requestID
            entries[token.id] = entry
            return .redeemed(trustProvider: entry.trustProvider, name: entry.name)
        }
    }
}

@Suite("Join tokens: one request each, never guessable, never shown again")
struct JoinTokenTests {
    func attestor(_ tokens: MemoryJoinTokens) -> Attestor { Attestor(jwt: JWTVerifier(), joinTokens: tokens) }

    func providers() async throws -> [TrustProvider] {
        let context = try await ResourceBench.context(.identityAttestation)
        return [
            TrustProvider(
                try await ResourceBench.admit(TrustProviderSpec.self, "vms", ["type": "join-token"], context: context))
        ]
    }

    @Test("a token admits its first request (and that request again), then is refused as used")
    func once() async throws {
        let tokens = MemoryJoinTokens()
        let (token, joinToken) = JoinToken.generate()
        tokens.add(joinToken, trustProvider: "vms", name: "build-host-7")
        let providers = try await providers()
        let bundle = WorkloadEvidenceBundle(joinToken: token)
        let verified = try await attestor(tokens).verify(bundle, tenant: "acme", requestID: "r1", providers: providers)
        #expect(verified.map(\.published) == [["name": "build-host-7", "tokenID": joinToken.id]])
        // The same request delivered again (a crash before the offset was committed) is not a second use.
        _ = try await attestor(tokens).verify(bundle, tenant: "acme", requestID: "r1", providers: providers)
        await #expect(throws: AttestationRefusal.joinTokenUsed) {
            try await attestor(tokens).verify(bundle, tenant: "acme", requestID: "r2", providers: providers)
        }
    }

    @Test("expired, unknown, guessed and malformed tokens are refused with their reasons")
    func refusals() async throws {
        let tokens = MemoryJoinTokens()
        let (expired, expiredToken) = JoinToken.generate()
        tokens.add(expiredToken, trustProvider: "vms", name: "old", expiresAt: Date() - 1)
        let (orphan, orphanToken) = JoinToken.generate()
        tokens.add(orphanToken, trustProvider: "deleted-provider", name: "x")
        let (real, _) = JoinToken.generate()
        let guessed = String(real.dropLast(4)) + "AAAA"
        tokens.add(JoinToken(presented: real)!, trustProvider: "vms", name: "real")
        let providers = try await providers()
        let cases: [(String, String, String)] = [
            ("expired", expired, "token-expired"),
            ("its provider deleted", orphan, "join-token-unknown"),
            ("right id, guessed secret", guessed, "join-token-unknown"),
            ("never issued", JoinToken.generate().token, "join-token-unknown"),
            ("not shaped like one", "sigil-join.zz.abc", "malformed"),
            ("a NUL inside", "sigil-join.0123456789abcdef.\0" + String(repeating: "a", count: 42), "malformed"),
        ]
        for (name, token, code) in cases {
            do {
                _ = try await attestor(tokens).verify(
                    WorkloadEvidenceBundle(joinToken: token), tenant: "acme", requestID: "r", providers: providers)
                Issue.record("\(name): accepted")
            } catch {
                #expect(error.code == code, "\(name): \(error.detail)")
            }
        }
    }

    @Test("a token's secret is 256 random bits; only its hash is kept")
    func shape() {
        let (token, joinToken) = JoinToken.generate()
        #expect(token.hasPrefix("sigil-join.\(joinToken.id)."))
        #expect(JoinToken(presented: token) == joinToken)
        #expect(
            !joinToken.secretHash.isEmpty
                && !token.contains(joinToken.secretHash.map { String(format: "%02x", $0) }.joined()))
        #expect(JoinToken.generate().token != token)
    }
}
