import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCrypto
import SigilEvents
import Testing

@testable import PolicyDecision
@testable import SigilService

/// `POST /v1/apply` (what `sigil apply -f` sends): a set admitted in one step, written as one signed batch, each
/// document admitted or refused on its own, on the policy service's kinds.
@Suite("Resource sets: any order, one signed batch, per-document refusals, whole-set schema refusals")
struct ResourceSetTests {
    typealias Bench = ResourceBench

    static let signer = EventSigner.generate(role: .policy, keyID: "policy-1").signer
    static let ledger = Bench.document(.serverWorkload, "ledger", ["host": "ledger.internal", "port": 443])
    static func policy(_ name: String, client: String = "billing") -> JSONValue {
        Bench.document(
            .accessPolicy, name,
            [
                "clientWorkload": .string(client), "serverWorkload": "ledger", "trustProvider": "cluster",
                "credentialProvider": "ledger-key",
            ])
    }

    func bench() async throws -> Bench {
        let bench = try await Bench(.policyDecision, signer: Self.signer)
        try bench.log.defineElsewhere(.trustProvider, "cluster")
        try bench.log.defineElsewhere(.clientWorkload, "billing")
        try bench.log.defineElsewhere(.credentialProvider, "ledger-key")
        return bench
    }

    func apply(
        _ client: some TestClientProtocol, _ items: [JSONValue], query: String = "", token: String = Bench.adminToken
    ) async throws -> Bench.Answer {
        try await Bench.send(
            client, .post, "/v1/apply\(query)",
            body: ["apiVersion": "sigil.dev/v1", "kind": "List", "items": .array(items)],
            token: token)
    }

    /// `(status, change or problem type)` of each document's outcome.
    func outcomes(_ answer: Bench.Answer) -> [String] {
        guard case .array(let items)? = answer.body["items"] else { return [] }
        return items.map { item in
            guard case .number(let status)? = item["status"] else { return "no status" }
            return "\(Int(status)) \(item["change"]?.stringValue ?? item["problem"]?["type"]?.stringValue ?? "")"
        }
    }

    @Test("a set in any order is admitted in one step and written as one signed batch, each event verifiable alone")
    func signedBatch() async throws {
        let bench = try await bench()
        let before = bench.log.events.count
        try await bench.application().test(.router) { client in
            // The policy names the server workload that comes after it.
            let answer = try await apply(client, [Self.policy("billing-ledger"), Self.ledger])
            #expect(answer.status == .ok)
            #expect(outcomes(answer) == ["201 created", "201 created"])
            #expect(try await Bench.send(client, .get, "/v1/access-policies/billing-ledger").status == .ok)
        }
        let written = bench.log.events.dropFirst(before)
        #expect(written.count == 2)
        // A verifier that has seen nothing checks each alone.
        let verifier = try EventVerifier(TrustBundle(keys: [Self.signer.trustedKey]))
        for event in written {
            #expect(try verifier.verify(event, try EventCatalog.sigil.decode(event)) == .policy)
        }
        // One Ed25519 signature for both (`key:signature:index/size:path`): only the place in the batch differs.
        let parts = written.map { ($0.signature ?? "").split(separator: ":").map(String.init) }
        #expect(parts.map(\.count) == [4, 4])
        #expect(parts.map { $0.first } == ["policy-1", "policy-1"])
        #expect(parts[0][1] == parts[1][1])
        #expect(parts.map { $0.count == 4 ? $0[2] : "" } == ["0/2", "1/2"])
    }

    @Test("refusals are per document, with the status its PUT would get; the others are written")
    func perDocumentRefusals() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let answer = try await apply(
                client,
                [
                    Self.ledger,
                    // The same target as another document of the set.
                    Bench.document(.serverWorkload, "ledger-2", ["host": "LEDGER.internal", "port": 443]),
                    Self.policy("nobody-ledger", client: "nobody"),
                    Self.ledger,
                    Self.policy("billing-ledger"),
                ])
            #expect(answer.status == .ok)
            #expect(
                outcomes(answer) == [
                    "201 created", "409 urn:sigil:problem:duplicate", "422 urn:sigil:problem:unknown-reference",
                    "409 urn:sigil:problem:duplicate", "201 created",
                ])
            guard case .array(let items)? = answer.body["items"] else { return }
            #expect(
                items[1]["problem"]?["detail"]?.stringValue
                    == "ServerWorkload ledger already has https://ledger.internal:443")
            #expect(items[2]["problem"]?["field"]?.stringValue == "spec.clientWorkload")
            #expect(
                items[3]["problem"]?["detail"]?.stringValue == "ServerWorkload ledger appears more than once in the set"
            )
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger-2").status == .notFound)
            #expect(try await Bench.send(client, .get, "/v1/access-policies/billing-ledger").status == .ok)
        }
    }

    @Test("a document the schema refuses refuses the whole set, naming items[i]; nothing is written")
    func schemaRefusals() async throws {
        let bench = try await bench()
        let before = bench.log.events.count
        try await bench.application().test(.router) { client in
            let badPort = Bench.document(.serverWorkload, "bad", ["host": "bad.internal", "port": "443"])
            let cases: [([JSONValue], String, String)] = [
                ([Self.ledger, badPort], "items[1].spec.port", "must be an integer"),
                ([Bench.document(.clientWorkload, "c", [:])], "items[0].kind", "must be one of AccessPolicy"),
                (
                    [["kind": "ServerWorkload", "metadata": [:], "spec": ["host": "a", "port": 1]]],
                    "items[0].metadata.name",
                    "is required"
                ),
                ([["metadata": ["name": "a"], "spec": [:]]], "items[0].kind", "is required"),
                (Array(repeating: Self.ledger, count: 1_001), "items", "must have 0 to 1000 items"),
            ]
            for (items, field, detail) in cases {
                let answer = try await apply(client, items)
                #expect(answer.status == .unprocessableContent, "\(field)")
                #expect(answer.field == field)
                #expect(answer.detail.contains(detail), "\(answer.detail)")
            }
            // The list's own kind and version are required: null is no value.
            for (field, body) in [
                ("kind", ["apiVersion": "sigil.dev/v1", "kind": .null, "items": []]),
                ("apiVersion", ["kind": "List", "items": []]),
            ] as [(String, JSONValue)] {
                let answer = try await Bench.send(client, .post, "/v1/apply", body: body)
                #expect(answer.status == .unprocessableContent && answer.field == field)
            }
            let notJSON = try await client.execute(
                uri: "/v1/apply", method: .post,
                headers: [.authorization: "Bearer \(Bench.adminToken)", .contentType: "application/json"],
                body: ByteBuffer(string: "{items: ")
            ) { $0.status }
            #expect(notJSON == .badRequest)
            let tooLarge = try await client.execute(
                uri: "/v1/apply", method: .post,
                headers: [.authorization: "Bearer \(Bench.adminToken)", .contentType: "application/json"],
                body: ByteBuffer(repeating: UInt8(ascii: " "), count: 16 * 1024 * 1024 + 1)
            ) { $0.status }
            #expect(tooLarge == .contentTooLarge)
        }
        #expect(bench.log.events.count == before)
    }

    @Test("applying the same set again changes nothing and writes nothing; a dry run writes nothing")
    func idempotentAndDryRun() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let dryRun = try await apply(client, [Self.ledger, Self.policy("billing-ledger")], query: "?dryRun=true")
            #expect(outcomes(dryRun) == ["201 created", "201 created"])
            #expect(dryRun.headers[HTTPField.Name("Sigil-Dry-Run")!] == "true")
            let before = bench.log.events.count
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .notFound)
            #expect(outcomes(try await apply(client, [Self.ledger])) == ["201 created"])
            #expect(bench.log.events.count == before + 1)
            #expect(outcomes(try await apply(client, [Self.ledger])) == ["200 unchanged"])
            #expect(bench.log.events.count == before + 1)
        }
    }

    @Test("only admins apply; an auditor gets 403, no token 401; other methods 405")
    func roles() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let auditor = try await apply(client, [Self.ledger], token: Bench.auditorToken)
            #expect(auditor.status == .forbidden)
            let anonymous = try await Bench.send(client, .post, "/v1/apply", body: ["items": []], token: nil)
            #expect(anonymous.status == .unauthorized)
            #expect(try await Bench.send(client, .get, "/v1/apply").status == .methodNotAllowed)
        }
        #expect(bench.log.events.count == 3)
    }
}
