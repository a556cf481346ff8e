import Foundation
import HTTPTypes
import HummingbirdTesting
import SigilCrypto
import SigilEvents
import Testing

@testable import PolicyDecision
@testable import SigilService

/// `POST /v1/delete` (what `sigil delete -f` sends): a set of kinds and names deleted in one step, written as one
/// signed batch, in any order; each refused on its own as its DELETE would be.
@Suite("Resource sets deleted: any order, one signed batch, per-item refusals")
struct ResourceSetDeletionTests {
    typealias Bench = ResourceBench
    typealias Sets = ResourceSetTests

    func delete(
        _ client: some TestClientProtocol, _ items: [(ResourceKind, String)], query: String = "",
        headers: HTTPFields = [:]
    ) async throws -> Bench.Answer {
        let listed: [JSONValue] = items.map { kind, name in
            ["kind": .string(kind.rawValue), "metadata": ["name": .string(name)]]
        }
        return try await Bench.send(
            client, .post, "/v1/delete\(query)",
            body: ["apiVersion": "sigil.dev/v1", "kind": "List", "items": .array(listed)],
            headers: headers)
    }

    @Test("a server workload listed before the policy naming it: both deleted, one signed batch, policy first")
    func anyOrder() async throws {
        let bench = try await ResourceSetTests().bench()
        try await bench.application().test(.router) { client in
            let applied = try await ResourceSetTests().apply(client, [Sets.ledger, Sets.policy("billing-ledger")])
            #expect(ResourceSetTests().outcomes(applied) == ["201 created", "201 created"])
            let before = bench.log.events.count
            let answer = try await delete(client, [(.serverWorkload, "ledger"), (.accessPolicy, "billing-ledger")])
            #expect(answer.status == .ok)
            #expect(ResourceSetTests().outcomes(answer) == ["204 deleted", "204 deleted"])
            let written = bench.log.events.dropFirst(before)
            #expect(written.map(\.subject) == ["AccessPolicy/billing-ledger", "ServerWorkload/ledger"])
            let signatures = Set(written.map { ($0.signature ?? "").split(separator: ":").dropFirst().first })
            #expect(signatures.count == 1, "one Ed25519 signature for the set")
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .notFound)
            #expect(try await Bench.send(client, .get, "/v1/access-policies/billing-ledger").status == .notFound)
        }
    }

    @Test("refused one by one: unknown, still named from outside the set, repeated; a dry run writes nothing")
    func refusals() async throws {
        let bench = try await ResourceSetTests().bench()
        try await bench.application().test(.router) { client in
            _ = try await ResourceSetTests().apply(client, [Sets.ledger, Sets.policy("billing-ledger")])
            let before = bench.log.events.count
            let dryRun = try await delete(client, [(.serverWorkload, "ledger")], query: "?dryRun=true")
            #expect(ResourceSetTests().outcomes(dryRun) == ["409 urn:sigil:problem:in-use"])
            // Counted as gone on a dry run: the policy is in the same delete, at another service's door.
            let assumed = try await delete(
                client, [(.serverWorkload, "ledger")], query: "?dryRun=true",
                headers: [HTTPField.Name("Sigil-Dry-Run-Set")!: "AccessPolicy/billing-ledger"])
            #expect(ResourceSetTests().outcomes(assumed) == ["204 deleted"])
            let answer = try await delete(
                client, [(.serverWorkload, "nowhere"), (.serverWorkload, "ledger"), (.serverWorkload, "nowhere")])
            #expect(
                ResourceSetTests().outcomes(answer) == [
                    "404 urn:sigil:problem:not-found", "409 urn:sigil:problem:in-use",
                    "409 urn:sigil:problem:duplicate",
                ])
            #expect(bench.log.events.count == before, "nothing written")
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .ok)

            // A kind another service owns, or no name: the set is refused whole, naming the item.
            let foreign = try await Bench.send(
                client, .post, "/v1/delete",
                body: [
                    "apiVersion": "sigil.dev/v1", "kind": "List",
                    "items": [["kind": "TrustProvider", "metadata": ["name": "cluster"]]],
                ])
            #expect(foreign.status == .unprocessableContent && foreign.field == "items[0].kind", "\(foreign.body)")
            let nameless = try await Bench.send(
                client, .post, "/v1/delete",
                body: [
                    "apiVersion": "sigil.dev/v1", "kind": "List",
                    "items": [["kind": "ServerWorkload", "metadata": [:]]],
                ])
            #expect(
                nameless.status == .unprocessableContent && nameless.field == "items[0].metadata.name",
                "\(nameless.body)")
        }
    }
}
