import Foundation
import SigilEvents
import SigilService
import Testing

@testable import IdentityAttestation
@testable import SigilAttestation

@Suite("Client workloads: typed identifiers with wildcards, combined with all or any")
struct ClientWorkloadIdentifierTests {
    func workload(_ spec: JSONValue) async throws -> ClientWorkloadSpec {
        let context = try await ResourceBench.context(.identityAttestation)
        return try await ResourceBench.admit(ClientWorkloadSpec.self, "w", spec, context: context).spec
    }

    func evidence(_ provider: String, _ attributes: [String: [String]]) -> VerifiedEvidence {
        VerifiedEvidence(
            trustProvider: provider, type: "test", attributes: WorkloadAttributes(attributes), published: [])
    }

    let pod = [
        "namespace": ["payments"], "serviceAccount": ["api-writer"], "podName": ["api-7d9f-x2"],
        "spiffeID": ["spiffe://acme.org/ns/payments/sa/api-writer"],
    ]

    @Test("wildcards and prefixes match what they say and nothing more")
    func typedMatchers() async throws {
        let cases: [(JSONValue, Bool)] = [
            (["trustProvider": "cluster", "namespace": "payments", "serviceAccount": "api-*"], true),
            (["trustProvider": "cluster", "namespace": "pay*", "serviceAccount": "*-writer"], true),
            (["trustProvider": "cluster", "namespace": "payments", "serviceAccount": "api"], false),
            (["trustProvider": "other", "namespace": "payments"], false),
            (["trustProvider": "cluster", "podNamePrefix": "api-"], true),
            (["trustProvider": "cluster", "podNamePrefix": "web-"], false),
            (["trustProvider": "cluster", "spiffeIDPrefix": "spiffe://acme.org/ns/payments"], true),
            (["trustProvider": "cluster", "spiffeIDPrefix": "spiffe://acme.org/ns/pay"], false),
            (["trustProvider": "cluster", "spiffeIDPrefix": "spiffe://acme.org/ns/payments/sa/api-writer"], true),
            (["trustProvider": "cluster", "claims": ["serviceAccount": "api-writer", "namespace": "payments"]], true),
            (["trustProvider": "cluster", "claims": ["namespace": "payments", "missing": "x"]], false),
        ]
        for (identifier, expected) in cases {
            let spec = try await workload(["identifiers": [identifier]])
            #expect(spec.matches([evidence("cluster", pod)]) == expected, "\(identifier)")
        }
    }

    @Test("all needs every identifier matched (two providers vouch together); any needs one")
    func composition() async throws {
        var document: [String: JSONValue] = [
            "identifiers": [
                ["trustProvider": "cluster", "namespace": "payments"],
                ["trustProvider": "github", "claims": ["repository": "acme/*", "ref": "refs/heads/main"]],
            ]
        ]
        let all = try await workload(.object(document))
        document["match"] = "any"
        let any = try await workload(.object(document))
        let kubernetes = evidence("cluster", pod)
        let github = evidence("github", ["repository": ["acme/api"], "ref": ["refs/heads/main"]])
        let branch = evidence("github", ["repository": ["acme/api"], "ref": ["refs/heads/feature"]])
        #expect(all.matches([kubernetes, github]))
        #expect(!all.matches([kubernetes]))
        #expect(!all.matches([kubernetes, branch]))
        #expect(any.matches([kubernetes]))
        #expect(any.matches([github]))
        #expect(!any.matches([branch]))
    }

    @Test("a claim holding a list matches when one of its values does")
    func listClaims() async throws {
        let spec = try await workload([
            "identifiers": [["trustProvider": "idp", "claims": ["groups": "oncall"]]]
        ])
        #expect(spec.matches([evidence("idp", ["groups": ["payments", "oncall"]])]))
        #expect(!spec.matches([evidence("idp", ["groups": ["payments"]])]))
    }

    @Test("the shorthand is one Kubernetes identifier, exact")
    func shorthand() async throws {
        let spec = try await workload([
            "trustProvider": "cluster", "namespace": "payments", "serviceAccount": "api-writer",
        ])
        #expect(spec.matches([evidence("cluster", pod)]))
        #expect(!spec.matches([evidence("cluster", pod.merging(["serviceAccount": ["api-reader"]]) { $1 })]))
    }

    @Test("identifiers that would let anything in, or two forms at once, are refused at admission")
    func refusals() async throws {
        let cases: [(JSONValue, String)] = [
            (["identifiers": [["trustProvider": "github"]]], "spec.identifiers[0]"),
            (
                ["identifiers": [["trustProvider": "github", "claims": ["repository": "**"]]]],
                "spec.identifiers[0].claims.repository"
            ),
            (
                [
                    "identifiers": [["trustProvider": "c", "namespace": "a"]], "trustProvider": "c", "namespace": "a",
                    "serviceAccount": "b",
                ],
                "spec.identifiers"
            ),
            (["trustProvider": "c", "namespace": "a"], "spec.serviceAccount"),
            (
                ["identifiers": [["trustProvider": "c", "spiffeIDPrefix": "https://acme.org/x"]]],
                "spec.identifiers[0].spiffeIDPrefix"
            ),
            (["identifiers": [["trustProvider": "c", "namespace": "a b"]]], "spec.identifiers[0].namespace"),
        ]
        for (spec, field) in cases {
            do {
                _ = try await workload(spec)
                Issue.record("admitted: \(spec)")
            } catch let problem as ProblemDetails {
                #expect(problem.field == field, "\(spec): \(problem.detail)")
            }
        }
    }

    @Test("globs: literal text, runs, and no blow-up on many stars")
    func globs() {
        #expect(Glob.matches("acme/*", "acme/api"))
        #expect(Glob.matches("acme/*", "acme/"))
        #expect(!Glob.matches("acme/*", "acme"))
        #expect(Glob.matches("*-prod", "eu-west-prod"))
        #expect(!Glob.matches("*-prod", "eu-west-prod-old"))
        #expect(Glob.matches("a*b*c", "a-b-b-c"))
        #expect(!Glob.matches("exact", "exactly"))
        let long = String(repeating: "a", count: 2_000)
        #expect(!Glob.matches(String(repeating: "*a", count: 200) + "b", long))
    }
}
