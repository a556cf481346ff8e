import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's credentials on the request path, on real sockets: a keep-alive upstream, workloads on keep-alive connections, a fake
/// control plane. No broker, no database. Part of `EdgeProxyTests`, whose tests run one at a time.
extension EdgeProxyTests {
    @Test("single flight: 200 concurrent cold requests cause one access request")
    func singleFlight() async throws {
        try await withEdge(requester: FakeAccessRequester(delay: .milliseconds(300))) { edge, upstream in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for _ in 0..<200 {
                    tasks.addTask {
                        try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                            try await $0.send(.GET, "http://127.0.0.1:\(upstream.port)/key").status
                        }
                    }
                }
                return try await tasks.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 })
            #expect(edge.requester.requests.withLockedValue { $0 } == 1)
        }
    }

    @Test("no answer from the control plane: 503 naming the stage, within the deadline counted from arrival")
    func controlPlaneDeadline() async throws {
        try await withEdge(
            requester: FakeAccessRequester(delay: .seconds(30)), configure: { $0.timeout = .milliseconds(500) }
        ) { edge, upstream in
            let started = ContinuousClock.now
            let response = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
            }
            let elapsed = ContinuousClock.now - started
            #expect(response.status == 503)
            #expect(response.problemType == "urn:sigil:problem:control-plane-unavailable")
            #expect(response.text.contains("\"stage\":\"edge\""))
            #expect(elapsed < .milliseconds(1_000), "\(elapsed)")
        }
    }

    @Test("a refusal from the control plane is a 403 naming stage and reason; nothing reaches the upstream")
    func refusal() async throws {
        let requester = FakeAccessRequester(
            refusal: EdgeRefusal(kind: .refused, stage: "policy", code: "no-policy", detail: "no policy allows it"))
        try await withEdge(requester: requester) { edge, upstream in
            let response = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
            }
            #expect(response.status == 403)
            #expect(
                response.text.contains("\"reason\":\"no-policy\"") && response.text.contains("\"stage\":\"policy\""))
            #expect(upstream.connections.withLockedValue { $0 } == 0)
        }
    }

    @Test("credentials refresh in the background at 80% of their lifetime; requests never wait for it")
    func backgroundRefresh() async throws {
        // Lifetime 3 s: due for refresh at 2.4 s, expired at 3 s; the request at ~2.55 s leaves room for a busy machine.
        try await withEdge(requester: FakeAccessRequester(delay: .milliseconds(400), lifetime: 3)) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let url = "http://127.0.0.1:\(upstream.port)/key"
                #expect(try await connection.send(.GET, url).status == 200)
                try await Task.sleep(for: .milliseconds(2_550))
                // Past 80%: this request uses the held credential at once and starts the refresh.
                let started = ContinuousClock.now
                #expect(try await connection.send(.GET, url).status == 200)
                #expect(ContinuousClock.now - started < .milliseconds(300))
                let refreshDeadline = ContinuousClock.now + .seconds(3)
                while edge.requester.requests.withLockedValue({ $0 }) < 2, ContinuousClock.now < refreshDeadline {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(edge.requester.requests.withLockedValue { $0 } == 2)
                #expect(try await connection.send(.GET, url).status == 200)
                #expect(edge.requester.requests.withLockedValue { $0 } == 2)
            }
        }
    }

    @Test("a rotated token is used within a second; an unreadable one is a 403")
    func tokenRotation() async throws {
        try await withEdge { edge, upstream in
            let url = "http://127.0.0.1:\(upstream.port)/key"
            let refresher = Task {
                while !Task.isCancelled { edge.evidence.refresh(); try? await Task.sleep(for: .milliseconds(250)) }
            }
            defer { refresher.cancel() }
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                #expect(try await connection.send(.GET, url).status == 200)
                try "token-two".write(toFile: edge.tokenFile, atomically: true, encoding: .utf8)
                try await Task.sleep(for: .seconds(1))
                #expect(try await connection.send(.GET, url).status == 200)
                #expect(edge.requester.tokens.withLockedValue { $0 } == ["token-one", "token-two"])
                try FileManager.default.removeItem(atPath: edge.tokenFile)
                try await Task.sleep(for: .seconds(1))
                let refused = try await connection.send(.GET, url)
                #expect(refused.status == 403)
                #expect(refused.text.contains("evidence-unavailable"))
            }
        }
    }

    @Test("the proxy listens on loopback by default and warns otherwise")
    func loopbackDefault() async throws {
        let configuration = EdgeConfiguration(testEdgeID: "x")
        #expect(configuration.proxyHost == "127.0.0.1" && configuration.listensOnLoopback)
        try await withEdge { edge, _ in
            let address = try #require(
                try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: edge.port).get().localAddress)
            #expect(address.ipAddress == "127.0.0.1")
            await #expect(throws: (any Error).self) {
                // Not reachable on another local address of this host.
                let other = Host.current().addresses.first { $0 != "127.0.0.1" && !$0.contains(":") } ?? "127.0.0.2"
                _ = try await ClientBootstrap(group: group).connectTimeout(.milliseconds(500))
                    .connect(host: other, port: edge.port).get()
            }
        }
    }

    @Test("credential use is summarized per server workload, credential and status class")
    func activitySummary() async throws {
        try await withEdge { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for _ in 0..<5 { _ = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key") }
                _ = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/missing")
            }
            let summary = try #require(await edge.server.environment.reporter.summarize(since: Date()))
            let classes = Dictionary(uniqueKeysWithValues: summary.entries.map { ($0.statusClass, $0.requests) })
            #expect(classes == ["2xx": 5, "4xx": 1])
            #expect(
                summary.entries.allSatisfy { $0.serverWorkload == "test-api" && $0.credentialRequestID == "request-1" })
            #expect(summary.entries.map { $0.latencyCounts.reduce(0, +) }.reduce(0, +) == 6)
        }
    }
}
