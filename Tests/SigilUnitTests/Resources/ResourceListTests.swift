import Foundation
import HummingbirdTesting
import SigilEvents
import Testing

@testable import PolicyDecision
@testable import SigilService

/// `GET /v1/<kind>` paged as Kubernetes lists page: `limit`, then `metadata.continue` until it is absent; by name, so
/// a resource created between two pages is listed or not by where its name falls; refusals name the parameter.
@Suite("Resource lists: limit and continue")
struct ResourceListTests {
    typealias Bench = ResourceBench

    func put(_ client: some TestClientProtocol, _ name: String, token: String = Bench.adminToken) async throws {
        let spec: JSONValue = ["host": .string("\(name).internal"), "port": 443]
        let answer = try await Bench.send(
            client, .put, "/v1/server-workloads/\(name)", body: Bench.document(.serverWorkload, name, spec),
            token: token)
        #expect(answer.status == .created, "\(answer.body)")
    }

    /// The names on a page, and its continue token.
    func page(_ client: some TestClientProtocol, _ query: String) async throws -> ([String], String?) {
        let answer = try await Bench.send(client, .get, "/v1/server-workloads" + query)
        #expect(answer.status == .ok, "\(answer.body)")
        guard case .array(let items) = answer.body["items"] else { return ([], nil) }
        return (
            items.compactMap { $0["metadata"]?["name"]?.stringValue },
            answer.body["metadata"]?["continue"]?.stringValue
        )
    }

    @Test("pages of `limit` by name, each naming the next; no limit lists all; a resource added midway falls in place")
    func pages() async throws {
        let bench = try await Bench(.policyDecision)
        try await bench.application().test(.router) { client in
            for name in ["app-c", "app-a", "app-e", "app-b", "app-d", "app-g", "app-f"] { try await put(client, name) }

            let (all, none) = try await page(client, "")
            #expect(all == ["app-a", "app-b", "app-c", "app-d", "app-e", "app-f", "app-g"])
            #expect(none == nil, "one page: no continue")

            let (first, after) = try await page(client, "?limit=3")
            #expect(first == ["app-a", "app-b", "app-c"])
            let token = try #require(after)
            // Between pages: one name before the token's place, one after it.
            try await put(client, "app-bb")
            try await put(client, "app-z")
            let (second, next) = try await page(client, "?limit=3&continue=\(token)")
            #expect(second == ["app-d", "app-e", "app-f"])
            let (third, end) = try await page(client, "?limit=3&continue=\(try #require(next))")
            #expect(third == ["app-g", "app-z"])
            #expect(end == nil, "the last page has no continue")

            // The same token in another tenant lists that tenant's resources after the name: none here.
            let other = try await Bench.send(
                client, .get, "/v1/server-workloads?continue=\(token)", token: Bench.otherAdminToken)
            #expect(other.status == .ok && other.body["items"] == [])
        }
    }

    @Test("a limit out of 1…1000 or a continue this API did not give is a 422 naming the parameter")
    func refusals() async throws {
        let bench = try await Bench(.policyDecision)
        try await bench.application().test(.router) { client in
            try await put(client, "app-a")
            for query in [
                "limit=0", "limit=1001", "limit=-1", "limit=+5", "limit=", "limit=abc", "limit=999999999999",
                "limit=5&limit=6", "limit=5&limit=abc",
            ] {
                let answer = try await Bench.send(client, .get, "/v1/server-workloads?\(query)")
                #expect(answer.status == .unprocessableContent && answer.field == "limit", "\(query): \(answer.body)")
            }
            // Not base64url; base64url of a name that is no resource name (a path, a NUL byte); far too long.
            let notNames = ["../x", "a\u{0}b"].map { ResourceListPage.token(after: $0) }
            for token in ["!!!", "", String(repeating: "A", count: 101)] + notNames {
                let answer = try await Bench.send(client, .get, "/v1/server-workloads?continue=\(token)")
                #expect(
                    answer.status == .unprocessableContent && answer.field == "continue", "\(token): \(answer.body)")
            }
            let (listed, _) = try await page(client, "?limit=1000")
            #expect(listed == ["app-a"], "the service goes on answering")
        }
    }
}
