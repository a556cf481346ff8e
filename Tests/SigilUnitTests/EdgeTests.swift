import Foundation
import SigilEvents
import Testing

@testable import EdgeProxy

@Suite("Edge: proxy targets and the credential cache")
struct EdgeTests {
    @Test("absolute-form authorities become targets with default ports; nonsense is refused")
    func targets() {
        #expect(
            ProxyMiddleware.target(scheme: "http", authority: "API.internal")
                == AccessTarget(scheme: "http", host: "api.internal", port: 80))
        #expect(
            ProxyMiddleware.target(scheme: "https", authority: "api.internal")
                == AccessTarget(scheme: "https", host: "api.internal", port: 443))
        #expect(
            ProxyMiddleware.target(scheme: "http", authority: "10.0.0.1:8080")
                == AccessTarget(scheme: "http", host: "10.0.0.1", port: 8080))
        #expect(
            ProxyMiddleware.target(scheme: "http", authority: "[::1]:9000")
                == AccessTarget(scheme: "http", host: "::1", port: 9000))
        for (scheme, authority) in [
            ("ftp", "x"), ("http", ":80"), ("http", "x:0"), ("http", "x:99999"), ("http", "x:y"), ("http", "a:1:2"),
        ] {
            #expect(ProxyMiddleware.target(scheme: scheme, authority: authority) == nil, "\(scheme)://\(authority)")
        }
    }

    @Test("a credential is used until 80% of its lifetime, then renewed; tokens never share one")
    func cache() {
        let cache = CredentialCache()
        let start = Date()
        let held = HeldCredential(
            requestID: "r", inject: "bearer", header: nil, value: "v", obtainedAt: start,
            expiresAt: start.addingTimeInterval(100))
        let key = CredentialCache.key(target: "http://api:80", evidenceDigest: "token-a")
        cache.store(held, for: key)
        #expect(cache.fresh(key, at: start.addingTimeInterval(79)) != nil)
        #expect(cache.fresh(CredentialCache.key(target: "http://api:80", evidenceDigest: "token-b"), at: start) == nil)
        #expect(cache.fresh(key, at: start.addingTimeInterval(81)) == nil)
        // A stale credential is dropped, not kept for later.
        #expect(cache.fresh(key, at: start.addingTimeInterval(10)) == nil)
    }

    @Test("each edge id maps to a stable reply partition within the topic")
    func replyPartition() throws {
        let configuration = EdgeConfiguration(testEdgeID: "edge-a")
        let partition = configuration.replyPartition(of: 12)
        #expect((0..<12).contains(partition))
        #expect(configuration.replyPartition(of: 12) == partition)
    }
}
