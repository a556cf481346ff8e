import Foundation
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// A workload retrying what the control plane refused gets the same 403 from the edge for `SIGIL_EDGE_REFUSAL_HOLD_MS`
/// without another access request; the hold ends when it runs out or when the configuration changes; timeouts are
/// never held; the held refusals are bounded.
@Suite("Held refusals: a refused workload retrying does not flood the control plane")
struct HeldRefusalTests {
    let group = MultiThreadedEventLoopGroup.singleton
    static let refusal = EdgeRefusal(kind: .refused, stage: "policy", code: "no-policy", detail: "no policy allows it")

    @Test("200 retries in a row over keep-alive: one access request, every answer the same 403; asked again after")
    func retries() async throws {
        let requester = FakeAccessRequester(delay: .milliseconds(5), refusal: Self.refusal)
        try await withEdge(requester: requester, configure: { $0.refusalHold = .milliseconds(500) }) { edge, upstream in
            let url = "http://127.0.0.1:\(upstream.port)/key"
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let started = ContinuousClock.now
                for _ in 0..<200 {
                    let response = try await connection.send(.GET, url)
                    #expect(response.status == 403)
                    #expect(response.text.contains("\"reason\":\"no-policy\""), "\(response.text)")
                }
                // A slow machine may pass the hold midway: then once more, no more than one a hold.
                let holds = Int((ContinuousClock.now - started) / .milliseconds(500)) + 1
                #expect((1...holds).contains(requester.requests.withLockedValue { $0 }))

                // A configuration change lets go at once: the next retry asks.
                let before = requester.requests.withLockedValue { $0 }
                edge.credentials.cache.revoke(.identities)
                #expect(try await connection.send(.GET, url).status == 403)
                #expect(requester.requests.withLockedValue { $0 } == before + 1)

                // And so does the hold running out.
                try await Task.sleep(for: .milliseconds(600))
                #expect(try await connection.send(.GET, url).status == 403)
                #expect(requester.requests.withLockedValue { $0 } == before + 2)
            }
            #expect(upstream.connections.withLockedValue { $0 } == 0, "nothing reached the upstream")
        }
    }

    @Test("with the hold at 0 every retry asks; a control plane that does not answer is never held")
    func notHeld() async throws {
        let requester = FakeAccessRequester(delay: .milliseconds(5), refusal: Self.refusal)
        try await withEdge(requester: requester, configure: { $0.refusalHold = .zero }) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for _ in 0..<5 {
                    let response = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/")
                    #expect(response.status == 403)
                }
            }
            #expect(requester.requests.withLockedValue { $0 } == 5)
        }
        // The fake answers after 300 ms, past a 100 ms deadline: 503s, each asking again.
        let silent = FakeAccessRequester(delay: .milliseconds(300))
        try await withEdge(
            requester: silent,
            configure: {
                $0.refusalHold = .seconds(5)
                $0.timeout = .milliseconds(100)
            }
        ) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for _ in 0..<3 {
                    let response = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/")
                    #expect(response.status == 503)
                }
            }
            #expect(silent.requests.withLockedValue { $0 } == 3)
        }
    }

    @Test("a refusal decided while the configuration changed is not held; at most 10,000 are, expired ones dropped")
    func bounded() {
        let cache = CredentialCache()
        let key = CredentialKey(serverWorkload: "api", evidenceDigest: "d")
        let stale = cache.revocations
        cache.revoke(.identities)
        cache.hold(Self.refusal, for: key, until: .now + .seconds(60), unlessRevokedSince: stale)
        #expect(cache.heldRefusal(key) == nil)

        for index in 0..<CredentialCache.maximumRefusals {
            cache.hold(
                Self.refusal, for: CredentialKey(serverWorkload: "api-\(index)", evidenceDigest: "d"),
                until: .now + .milliseconds(index < 10 ? 0 : 60_000), unlessRevokedSince: cache.revocations)
        }
        // Full: the ten expired ones make room for this one; then no more room.
        cache.hold(Self.refusal, for: key, until: .now + .seconds(60), unlessRevokedSince: cache.revocations)
        #expect(cache.heldRefusal(key)?.code == "no-policy")
        let extra = (0..<20).map { CredentialKey(serverWorkload: "extra-\($0)", evidenceDigest: "d") }
        for other in extra {
            cache.hold(Self.refusal, for: other, until: .now + .seconds(60), unlessRevokedSince: cache.revocations)
        }
        #expect(extra.filter { cache.heldRefusal($0) != nil }.count == 9)
        #expect(cache.heldRefusal(CredentialKey(serverWorkload: "api-0", evidenceDigest: "d")) == nil, "expired")
    }
}
