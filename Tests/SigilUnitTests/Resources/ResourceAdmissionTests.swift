import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilEvents
import Testing

@testable import PolicyDecision
@testable import SigilService

/// The admission rules of the admin API, on the policy service's kinds (ServerWorkload, AccessPolicy), over an
/// in-memory configuration log that applies events as the projection does.
@Suite("Resource admission: schema, references, conflicts, versions, idempotence, dry runs, tenants, roles")
struct ResourceAdmissionTests {
    typealias Bench = ResourceBench

    static let ledger: JSONValue = ["host": "Ledger.Internal", "port": 443]
    static let policy: JSONValue = [
        "clientWorkload": "billing", "serverWorkload": "ledger", "trustProvider": "cluster",
        "credentialProvider": "ledger-key",
    ]

    /// A bench where the other services' resources the policy names exist.
    func bench() async throws -> Bench {
        let bench = try await Bench(.policyDecision)
        try bench.log.defineElsewhere(.trustProvider, "cluster")
        try bench.log.defineElsewhere(
            .clientWorkload, "billing",
            references: [ResourceReference(kind: .trustProvider, name: "cluster", field: "spec.trustProvider")])
        try bench.log.defineElsewhere(.credentialProvider, "ledger-key")
        return bench
    }

    func put(
        _ client: some TestClientProtocol, _ kind: ResourceKind, _ name: String, _ spec: JSONValue,
        token: String = Bench.adminToken, query: String = "", headers: HTTPFields = [:], labels: JSONValue = [:]
    ) async throws -> Bench.Answer {
        try await Bench.send(
            client, .put, "/v1/\(kind.pathComponent)/\(name)\(query)",
            body: Bench.document(kind, name, spec, labels: labels),
            token: token, headers: headers)
    }

    @Test("schema refusals name the field: unknown, wrong type, out of range, pattern, required, control characters")
    func schemaRefusals() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let cases: [(ResourceKind, JSONValue, String, String)] = [
                (
                    .serverWorkload, ["host": "a.internal", "port": 443, "prot": 1], "spec.prot",
                    "is not a field of spec"
                ),
                (.serverWorkload, ["host": "a.internal", "port": "443"], "spec.port", "must be an integer"),
                (.serverWorkload, ["host": "a.internal", "port": 70_000], "spec.port", "from 1 to 65535"),
                (.serverWorkload, ["host": "a.internal", "port": .number(4.5)], "spec.port", "must be an integer"),
                (.serverWorkload, ["host": "a.internal"], "spec.port", "is required"),
                (.serverWorkload, ["host": "a b", "port": 1], "spec.host", "a host name or an IP address"),
                (.serverWorkload, ["host": "a.internal\u{0}", "port": 1], "spec.host", "control characters"),
                (.serverWorkload, ["scheme": "ftp", "host": "a", "port": 1], "spec.scheme", "one of http, https"),
                (
                    .serverWorkload, ["host": "a", "port": 1, "reportEachRequest": "yes"], "spec.reportEachRequest",
                    "true or false"
                ),
                (
                    .serverWorkload, ["scheme": "http", "host": "a", "port": 80, "ca": "x"], "spec.ca",
                    "apply to TLS only"
                ),
                (
                    .serverWorkload, ["scheme": "http", "host": "a", "port": 80, "serverName": "a.example"],
                    "spec.serverName", "apply to TLS only"
                ),
                (
                    .serverWorkload, ["scheme": "postgres", "host": "db", "port": 5432], "spec.listenPort",
                    "is required"
                ),
                (
                    .serverWorkload, ["scheme": "postgres", "host": "db", "port": 5432, "listenPort": 80],
                    "spec.listenPort", "from 1024"
                ),
                (
                    .serverWorkload,
                    ["scheme": "postgres", "host": "db", "port": 5432, "listenPort": 15432, "pathPrefix": "/x"],
                    "spec.pathPrefix", "HTTP server workloads only"
                ),
                (
                    .serverWorkload,
                    [
                        "scheme": "postgres", "host": "db", "port": 5432, "listenPort": 15432, "sslmode": "disable",
                        "serverName": "db.internal",
                    ], "spec.serverName", "apply to TLS only"
                ),
                (
                    .serverWorkload, ["scheme": "https", "host": "a", "port": 443, "listenPort": 15432],
                    "spec.listenPort", "scheme postgres only"
                ),
                (
                    .serverWorkload,
                    ["scheme": "postgres", "host": "db", "port": 5432, "listenPort": 15432, "sslmode": "require"],
                    "spec.sslmode", "one of"
                ),
                (
                    .serverWorkload, ["host": "a", "port": 443, "ca": "not a certificate"], "spec.ca",
                    "PEM certificates"
                ),
                (.accessPolicy, ["clientWorkload": "billing"], "spec.serverWorkload", "is required"),
                (
                    .accessPolicy, Self.policy.merging(["ttlSeconds": 5]), "spec.ttlSeconds",
                    "from 10 to 86400"
                ),
                (
                    .accessPolicy, Self.policy.merging(["clientWorkload": "Billing!"]), "spec.clientWorkload",
                    "lower-case"
                ),
            ]
            for (kind, spec, field, message) in cases {
                let answer = try await put(client, kind, "x", spec)
                #expect(answer.status == .unprocessableContent, "\(spec)")
                #expect(answer.field == field, "\(spec): \(answer.detail)")
                #expect(answer.detail.contains(message), "\(spec): \(answer.detail)")
                #expect(answer.headers[.contentType] == "application/problem+json")
            }
            // The envelope too: the kind must be the path's, the name a DNS label matching the path, no stray fields.
            let envelopes: [(String, JSONValue, String)] = [
                ("x", Bench.document(.accessPolicy, "x", Self.ledger), "kind"),
                ("x", Bench.document(.serverWorkload, "y", Self.ledger), "metadata.name"),
                ("Bad_Name", Bench.document(.serverWorkload, "Bad_Name", Self.ledger), "metadata.name"),
                ("x", Bench.document(.serverWorkload, "x", Self.ledger).merging(["status": [:]]), "status"),
                ("x", Bench.document(.serverWorkload, "x", Self.ledger).merging(["apiVersion": "v2"]), "apiVersion"),
                (
                    "x", Bench.document(.serverWorkload, "x", Self.ledger, labels: ["bad key!": "v"]),
                    "metadata.labels.bad key!"
                ),
            ]
            for (name, document, field) in envelopes {
                let answer = try await Bench.send(client, .put, "/v1/server-workloads/\(name)", body: document)
                #expect(answer.status == .unprocessableContent, "\(document)")
                #expect(answer.field == field, "\(answer.detail)")
            }
            let malformed = try await client.execute(
                uri: "/v1/server-workloads/x", method: .put,
                headers: [.authorization: "Bearer \(Bench.adminToken)"], body: ByteBuffer(string: "{not json"))
            #expect(malformed.status == .badRequest)
            #expect(bench.log.events.count == 3)  // only the ones defined elsewhere
        }
    }

    @Test("a reference to a resource that does not exist is refused with 422 naming it")
    func unknownReference() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            let answer = try await put(client, .accessPolicy, "p", Self.policy.merging(["clientWorkload": "nobody"]))
            #expect(answer.status == .unprocessableContent)
            #expect(answer.type == "urn:sigil:problem:unknown-reference")
            #expect(answer.field == "spec.clientWorkload")
            #expect(answer.detail == "spec.clientWorkload names ClientWorkload nobody, which does not exist")
            // A dry run of a set may count the rest of the set as existing.
            let dryRun = try await put(
                client, .accessPolicy, "p", Self.policy.merging(["clientWorkload": "nobody"]), query: "?dryRun=true",
                headers: [HTTPField.Name("Sigil-Dry-Run-Set")!: "ClientWorkload/nobody, AccessPolicy/p"])
            #expect(dryRun.status == .created)
        }
    }

    @Test("deleting a resource others name is refused with 409 listing them")
    func deleteInUse() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            #expect(try await put(client, .accessPolicy, "billing-ledger", Self.policy).status == .created)
            let refused = try await Bench.send(client, .delete, "/v1/server-workloads/ledger")
            #expect(refused.status == .conflict)
            #expect(refused.type == "urn:sigil:problem:in-use")
            #expect(refused.detail.contains("AccessPolicy/billing-ledger"))
            #expect(try await Bench.send(client, .delete, "/v1/access-policies/billing-ledger").status == .noContent)
            #expect(try await Bench.send(client, .delete, "/v1/server-workloads/ledger").status == .noContent)
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .notFound)
            #expect(try await Bench.send(client, .delete, "/v1/server-workloads/ledger").status == .notFound)
        }
    }

    @Test(
        "a second server workload at the same target, or a second policy for the same pair, is a 409 naming the first")
    func duplicates() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            // Host names compare without case.
            let twin = try await put(client, .serverWorkload, "ledger-2", ["host": "ledger.internal", "port": 443])
            #expect(twin.status == .conflict)
            #expect(twin.detail == "ServerWorkload ledger already has https://ledger.internal:443")
            #expect(
                try await put(
                    client, .serverWorkload, "ledger-http", ["scheme": "http", "host": "ledger.internal", "port": 443]
                ).status == .created)
            #expect(try await put(client, .accessPolicy, "first", Self.policy).status == .created)
            let second = try await put(client, .accessPolicy, "second", Self.policy.merging(["ttlSeconds": 60]))
            #expect(second.status == .conflict)
            #expect(second.detail.contains("AccessPolicy first already has"))
            // The resource itself may keep its own value.
            #expect(
                try await put(client, .accessPolicy, "first", Self.policy.merging(["ttlSeconds": 60])).change
                    == "updated")
        }
    }

    @Test("a write over a stale resourceVersion is a 409; over the current one it applies")
    func optimisticConcurrency() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let created = try await put(client, .serverWorkload, "ledger", Self.ledger)
            let first = try #require(created.version)
            #expect(created.headers[.eTag] == "\"\(first)\"")
            let updated = try await put(
                client, .serverWorkload, "ledger", ["host": "ledger.internal", "port": 8443],
                headers: [.ifMatch: "\"\(first)\""])
            #expect(updated.status == .ok)
            #expect(updated.change == "updated")
            #expect(updated.body["metadata"]?["generation"] == 2)
            // Someone still holding the first version loses, by header or in the document.
            let stale = try await put(
                client, .serverWorkload, "ledger", ["host": "ledger.internal", "port": 9443],
                headers: [.ifMatch: "\"\(first)\""])
            #expect(stale.status == .conflict)
            #expect(stale.type == "urn:sigil:problem:stale-resource-version")
            var document = Bench.document(.serverWorkload, "ledger", ["host": "ledger.internal", "port": 9443])
            document = document.merging(["metadata": ["name": "ledger", "resourceVersion": .string(first)]])
            #expect(
                try await Bench.send(client, .put, "/v1/server-workloads/ledger", body: document).status == .conflict)
            let staleDelete = try await Bench.send(
                client, .delete, "/v1/server-workloads/ledger", headers: [.ifMatch: "\"\(first)\""])
            #expect(staleDelete.status == .conflict)
            let missing = try await put(client, .serverWorkload, "other", Self.ledger, headers: [.ifMatch: "\"x\""])
            #expect(missing.status == .conflict)
            let current = try await Bench.send(client, .get, "/v1/server-workloads/ledger")
            #expect(current.body["spec"]?["port"] == 8443)
        }
    }

    @Test("applying the same document again changes nothing and writes no event; labels alone keep the generation")
    func idempotent() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let created = try await put(client, .serverWorkload, "ledger", Self.ledger)
            #expect(created.change == "created")
            #expect(
                created.body["spec"] == [
                    "scheme": "https", "host": "ledger.internal", "port": 443, "reportEachRequest": false,
                ])
            let again = try await put(client, .serverWorkload, "ledger", Self.ledger)
            #expect(again.status == .ok)
            #expect(again.change == "unchanged")
            #expect(again.version == created.version)
            #expect(bench.log.events.count == 4)  // three defined elsewhere, one here
            // What GET returns can be applied as it is, and is unchanged.
            let read = try await Bench.send(client, .get, "/v1/server-workloads/ledger")
            let roundTrip = try await Bench.send(client, .put, "/v1/server-workloads/ledger", body: read.body)
            #expect(roundTrip.change == "unchanged")
            let labelled = try await put(client, .serverWorkload, "ledger", Self.ledger, labels: ["team": "ledger"])
            #expect(labelled.change == "updated")
            #expect(labelled.body["metadata"]?["generation"] == 1)
            #expect(labelled.body["metadata"]?["uid"] == created.body["metadata"]?["uid"])
            #expect(bench.log.events.count == 5)
        }
    }

    @Test("a dry run admits and says what would change, and writes nothing")
    func dryRun() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let wouldCreate = try await put(client, .serverWorkload, "ledger", Self.ledger, query: "?dryRun=true")
            #expect(wouldCreate.status == .created)
            #expect(wouldCreate.change == "created")
            #expect(wouldCreate.headers[HTTPField.Name("Sigil-Dry-Run")!] == "true")
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .notFound)
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            let events = bench.log.events.count
            #expect(
                try await Bench.send(client, .delete, "/v1/server-workloads/ledger?dryRun=true").status == .noContent)
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger").status == .ok)
            let invalid = try await put(
                client, .serverWorkload, "ledger", ["host": "x", "port": 0], query: "?dryRun=true")
            #expect(invalid.status == .unprocessableContent)
            #expect(bench.log.events.count == events)
        }
    }

    @Test("another tenant's resources are invisible: 404, never 403; its writes are its own")
    func tenants() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            let other = Bench.otherAdminToken
            #expect(try await Bench.send(client, .get, "/v1/server-workloads/ledger", token: other).status == .notFound)
            #expect(
                try await Bench.send(client, .delete, "/v1/server-workloads/ledger", token: other).status == .notFound)
            let list = try await Bench.send(client, .get, "/v1/server-workloads", token: other)
            #expect(list.body["items"] == [])
            // The same name and target in another tenant is no conflict, and changes nothing here.
            #expect(
                try await put(
                    client, .serverWorkload, "ledger", ["host": "ledger.internal", "port": 443], token: other
                ).status == .created)
            // References resolve only within the tenant.
            let policy = try await put(client, .accessPolicy, "p", Self.policy, token: other)
            #expect(policy.type == "urn:sigil:problem:unknown-reference")
            let mine = try await Bench.send(client, .get, "/v1/server-workloads/ledger")
            #expect(mine.body["metadata"]?["tenant"] == "acme")
        }
    }

    @Test("roles: auditors read, never write; an edge's token reads nothing; no token is a 401; other methods 405")
    func roles() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            #expect(try await put(client, .serverWorkload, "ledger", Self.ledger).status == .created)
            #expect(
                try await put(client, .serverWorkload, "x", Self.ledger, token: Bench.auditorToken).status == .forbidden
            )
            #expect(
                try await Bench.send(client, .delete, "/v1/server-workloads/ledger", token: Bench.auditorToken).status
                    == .forbidden)
            #expect(
                try await Bench.send(client, .get, "/v1/server-workloads/ledger", token: Bench.auditorToken).status
                    == .ok)
            #expect(
                try await Bench.send(client, .get, "/v1/server-workloads", token: Bench.edgeToken).status == .forbidden)
            let anonymous = try await Bench.send(client, .get, "/v1/server-workloads", token: nil)
            #expect(anonymous.status == .unauthorized)
            #expect(anonymous.headers[.wwwAuthenticate] == "Bearer realm=\"sigil\"")
            let patch = try await Bench.send(client, .patch, "/v1/server-workloads/ledger")
            #expect(patch.status == .methodNotAllowed)
            #expect(patch.headers[.allow] == "GET, PUT, DELETE")
            #expect(try await Bench.send(client, .post, "/v1/server-workloads").headers[.allow] == "GET")
        }
    }

    @Test("every change is an event naming who made it, the versions before and after, and the spec's digest")
    func changesAreAudited() async throws {
        let bench = try await bench()
        try await bench.application().test(.router) { client in
            let created = try await put(client, .serverWorkload, "ledger", Self.ledger)
            let updated = try await put(client, .serverWorkload, "ledger", ["host": "ledger.internal", "port": 8443])
            #expect(try await Bench.send(client, .delete, "/v1/server-workloads/ledger").status == .noContent)
            let payloads = try bench.log.payloads().suffix(3)
            let first = try #require(payloads.first as? ResourceDefined)
            #expect(first.changedBy == ResourceActor(tokenName: "ops", role: "admin"))
            #expect(first.previousResourceVersion == nil)
            #expect(first.metadata.resourceVersion == created.version)
            #expect(first.specDigest.count == 64)
            let second = try #require(payloads.dropFirst().first as? ResourceDefined)
            #expect(second.previousResourceVersion == created.version)
            #expect(second.specDigest != first.specDigest)
            let removed = try #require(payloads.last as? ResourceRemoved)
            #expect(removed.resourceVersion == updated.version)
            #expect(removed.changedBy.tokenName == "ops")
        }
    }

    @Test("of two writes that raced from different replicas, every consumer keeps the first in the log")
    func racedWrites() throws {
        let catalog = ResourceCatalog()
        func defined(_ version: String, previous: String?) -> ResourceDefined {
            ResourceDefined(
                kind: .serverWorkload,
                metadata: ResourceMetadata(
                    name: "ledger", tenant: "acme", labels: [:], uid: "u", resourceVersion: version, generation: 1,
                    createdAt: Date(), updatedAt: Date(), createdBy: "ops"),
                spec: [:], previousResourceVersion: previous, references: [], specDigest: "",
                changedBy: ResourceActor(tokenName: "ops", role: "admin"))
        }
        #expect(catalog.apply(defined("v1", previous: nil), tenant: "acme"))
        #expect(catalog.apply(defined("v2", previous: "v1"), tenant: "acme"))
        // Written by a replica that had seen v1 too: it lost the race and is ignored.
        #expect(!catalog.apply(defined("v2b", previous: "v1"), tenant: "acme"))
        #expect(!catalog.apply(defined("v0", previous: nil), tenant: "acme"))
        #expect(catalog.entry(.serverWorkload, "ledger", tenant: "acme")?.metadata.resourceVersion == "v2")
        #expect(
            !catalog.apply(
                ResourceRemoved(
                    kind: .serverWorkload, name: "ledger", resourceVersion: "v1",
                    changedBy: .init(tokenName: "a", role: "admin")), tenant: "acme"))
        #expect(
            catalog.apply(
                ResourceRemoved(
                    kind: .serverWorkload, name: "ledger", resourceVersion: "v2",
                    changedBy: .init(tokenName: "a", role: "admin")), tenant: "acme"))
    }
}

extension JSONValue {
    /// The object with `other`'s fields added or replaced.
    func merging(_ other: JSONValue) -> JSONValue {
        guard case .object(var fields) = self, case .object(let more) = other else { return self }
        fields.merge(more) { _, new in new }
        return .object(fields)
    }
}
