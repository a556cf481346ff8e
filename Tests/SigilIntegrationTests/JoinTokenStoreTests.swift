import Foundation
import Logging
import PostgresNIO
import SigilAttestation
import SigilEvents
import SigilProjection
import Testing

@testable import IdentityAttestation

@Suite("Join token store: a token taken once across replicas, expiry and revocation, no secret stored")
struct JoinTokenStoreTests {
    let logger = Logger(label: "test.join-tokens")

    func migrated(_ postgres: PostgresClient) async throws -> SchemaName {
        let schema = TestPostgres.uniqueSchema("attest")
        try await MigrationRunner(
            schema: schema,
            migrations: [
                Migration(version: 1, name: "none") { _ in [] }, Migration(version: 2, name: "none") { _ in [] },
                Migration(version: 3, name: "none") { _ in [] }, JoinTokenStore.migration,
            ]
        ).apply(on: postgres, logger: logger)
        return schema
    }

    @Test("two replicas racing with one token: exactly one request gets it, the rest are told it was used")
    func exactlyOnceAcrossReplicas() async throws {
        // Two replicas: two database clients, as two sigil-attest processes have.
        try await TestPostgres.withClient { first in
            try await TestPostgres.withClient { second in
                let schema = try await migrated(first)
                let stores = [first, second].map { JoinTokenStore(schema: schema, postgres: $0, logger: logger) }
                let (token, joinToken) = JoinToken.generate()
                try await stores[0].create(
                    joinToken, tenant: "acme", trustProvider: "vms", name: "host-1", expiresAt: Date() + 600,
                    createdBy: "test")
                let outcomes = try await withThrowingTaskGroup(of: JoinTokenRedemption.self) { group in
                    for index in 0..<16 {
                        group.addTask {
                            try await stores[index % 2].redeem(
                                JoinToken(presented: token)!, tenant: "acme", requestID: "request-\(index)")
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 == .redeemed(trustProvider: "vms", name: "host-1") }.count == 1)
                #expect(outcomes.filter { $0 == .alreadyUsed }.count == 15)
                // The secret is not in the database: only its hash.
                let secret = String(token.split(separator: ".").last!)
                let dump = try await TestPostgres.count(
                    first, "\(schema.rawValue).join_tokens",
                    where: "position('\(secret)' in secret_hash::text || name || id || trust_provider) > 0")
                #expect(dump == 0)
                // Another tenant's token store does not know it.
                #expect(try await stores[1].redeem(joinToken, tenant: "globex", requestID: "r") == .unknown)
                try await first.query("DROP SCHEMA \(unescaped: schema.rawValue) CASCADE", logger: logger)
            }
        }
    }

    @Test("an expired token is refused as expired; a revoked one is unknown; a used one cannot be revoked")
    func expiryAndRevocation() async throws {
        try await TestPostgres.withClient { postgres in
            let schema = try await migrated(postgres)
            let store = JoinTokenStore(schema: schema, postgres: postgres, logger: logger)
            let (_, expired) = JoinToken.generate()
            try await store.create(
                expired, tenant: "acme", trustProvider: "vms", name: "old", expiresAt: Date() - 1, createdBy: "test")
            #expect(try await store.redeem(expired, tenant: "acme", requestID: "r1") == .expired)
            let (_, revoked) = JoinToken.generate()
            try await store.create(
                revoked, tenant: "acme", trustProvider: "vms", name: "gone", expiresAt: Date() + 600, createdBy: "test")
            #expect(try await store.revoke(id: revoked.id, tenant: "acme") == .revoked)
            #expect(try await store.redeem(revoked, tenant: "acme", requestID: "r2") == .unknown)
            let (_, used) = JoinToken.generate()
            try await store.create(
                used, tenant: "acme", trustProvider: "vms", name: "used", expiresAt: Date() + 600, createdBy: "test")
            #expect(
                try await store.redeem(used, tenant: "acme", requestID: "r3")
                    == .redeemed(trustProvider: "vms", name: "used"))
            #expect(try await store.revoke(id: used.id, tenant: "acme") == .used)
            let listed = try await store.list(tenant: "acme")
            #expect(listed.map(\.name).sorted() == ["old", "used"])
            #expect(listed.first { $0.name == "used" }?.usedByRequest == "r3")
            try await postgres.query("DROP SCHEMA \(unescaped: schema.rawValue) CASCADE", logger: logger)
        }
    }
}
