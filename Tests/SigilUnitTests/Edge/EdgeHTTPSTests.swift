import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import SigilClient
import SigilEvents
import Testing

@testable import EdgeProxy

/// HTTPS upstreams: the workload sends plain HTTP to the edge, the edge originates TLS to an `https` server workload,
/// verifying the certificate against the server workload's CA and its name. Part of `EdgeProxyTests`, whose tests run
/// one at a time.
extension EdgeProxyTests {
    /// An HTTPS test upstream with a certificate from `pki` for `names` and `addresses`; with `clientCA`, it requires
    /// a client certificate from that CA (mutual TLS).
    static func httpsUpstream(
        _ pki: DemoPKI, names: [String] = ["localhost"], addresses: [String] = ["127.0.0.1"], clientCA: String? = nil,
        notValidAfter: Date = Date() + 3600
    ) async throws -> TestUpstream {
        let server = try pki.server(names: names, addresses: addresses, notValidAfter: notValidAfter)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(server.chainPEM.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(server.keyPEM.utf8), format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        if let clientCA {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(clientCA.utf8)))
        }
        return try await TestUpstream(
            group: MultiThreadedEventLoopGroup.singleton, tls: try NIOSSLContext(configuration: configuration))
    }

    /// Replaces the harness's plain `test-api` by an https server workload at `upstream`.
    func useHTTPS(_ edge: EdgeUnderTest, _ upstream: TestUpstream, ca: String, serverName: String? = nil) throws {
        edge.serverWorkloads.remove(name: "test-api")
        edge.serverWorkloads.define(
            EdgeServerWorkload(
                name: "test-api", target: AccessTarget(scheme: "https", host: "127.0.0.1", port: upstream.port),
                tls: try UpstreamTLS(ca: ca, serverName: serverName, host: "127.0.0.1")))
    }

    @Test("plain HTTP to the edge, TLS to the upstream: verified, the credential injected, one TLS connection reused")
    func httpsUpstream() async throws {
        let pki = try DemoPKI()
        let upstream = try await Self.httpsUpstream(pki)
        defer { Task { await upstream.close() } }
        try await withEdge { edge, _ in
            try useHTTPS(edge, upstream, ca: pki.rootPEM)
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for _ in 0..<50 {
                    let answer = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
                    #expect(answer.status == 200, "\(answer.text)")
                }
                let absolute = try await connection.send(.GET, "https://127.0.0.1:\(upstream.port)/key")
                #expect(absolute.status == 200, "absolute-form https:// too: \(absolute.text)")
                let uploaded = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/upload", streamedBytes: 2 * 1024 * 1024)
                #expect(uploaded.text == String(2 * 1024 * 1024))
            }
            #expect(upstream.connections.withLockedValue { $0 } == 1, "one TLS connection for every request")
        }
    }

    @Test("an upstream certificate from another CA, or for another name, is refused 502 upstream-tls-failed")
    func httpsVerification() async throws {
        let pki = try DemoPKI()
        // Only a DNS name: NIOSSL also accepts an IP SAN matching the address it connected to, whatever the name.
        let upstream = try await Self.httpsUpstream(pki, names: ["api.internal.example"], addresses: [])
        defer { Task { await upstream.close() } }
        try await withEdge { edge, _ in
            try useHTTPS(edge, upstream, ca: pki.rootPEM, serverName: "api.internal.example")
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let named = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
                #expect(named.status == 200, "\(named.text)")
            }
        }
        let cases: [(ca: String, serverName: String?, says: String)] = [
            (try DemoPKI().rootPEM, "api.internal.example", "does not chain to a trusted CA"),
            (pki.rootPEM, "api.other.example", "not for the name"),
            (pki.rootPEM, nil, "not for the name"),
        ]
        for (ca, serverName, says) in cases {
            try await withEdge { edge, _ in
                try useHTTPS(edge, upstream, ca: ca, serverName: serverName)
                try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                    let refused = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
                    #expect(refused.status == 502)
                    #expect(
                        refused.text.contains("upstream-tls-failed") && refused.text.contains(says), "\(refused.text)")
                }
            }
        }
        // An expired upstream certificate.
        let expired = try await Self.httpsUpstream(pki, notValidAfter: Date() - 60)
        defer { Task { await expired.close() } }
        try await withEdge { edge, _ in
            try useHTTPS(edge, expired, ca: pki.rootPEM)
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let refused = try await connection.send(.GET, "http://127.0.0.1:\(expired.port)/key")
                #expect(refused.status == 502 && refused.text.contains("has expired"), "\(refused.text)")
            }
        }
        // Absolute-form https:// to a host that is no server workload: the edge does not originate TLS for it.
        try await withEdge { edge, _ in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let refused = try await connection.send(.GET, "https://127.0.0.1:1/")
                #expect(refused.status == 501 && refused.text.contains("https-upstream-unmanaged"))
            }
        }
    }

    @Test("mutual TLS: an x509 credential's certificate is presented; without one the upstream refuses the handshake")
    func clientCertificates() async throws {
        let pki = try DemoPKI()
        let upstream = try await Self.httpsUpstream(pki, clientCA: pki.rootPEM)
        defer { Task { await upstream.close() } }
        try await withEdge { edge, _ in
            try useHTTPS(edge, upstream, ca: pki.rootPEM)
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let refused = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
                #expect(refused.status == 502, "\(refused.text)")
                #expect(
                    refused.text.contains("upstream-tls-failed") && refused.text.contains("client certificate"),
                    "\(refused.text)")
            }
        }
        let workload = try pki.workload(path: "/billing")
        let presenting = try UpstreamTLS(ca: pki.rootPEM, serverName: nil, host: "127.0.0.1")
            .presenting(chainPEM: workload.chainPEM, keyPEM: workload.keyPEM)
        let requester = FakeAccessRequester(injection: .clientCertificate, upstreamTLS: presenting)
        try await withEdge(requester: requester) { edge, _ in
            try useHTTPS(edge, upstream, ca: pki.rootPEM)
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                for _ in 0..<20 {
                    let echo = try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/echo")
                    #expect(echo.status == 200, "\(echo.text)")
                }
            }
            #expect(requester.requests.withLockedValue { $0 } == 1)
        }
    }

    @Test("load over TLS: 10,000 requests on 32 keep-alive connections, upstream resets among them; all others 200")
    func httpsLoad() async throws {
        let pki = try DemoPKI()
        let upstream = try await Self.httpsUpstream(pki)
        defer { Task { await upstream.close() } }
        try await withEdge { edge, _ in
            try useHTTPS(edge, upstream, ca: pki.rootPEM)
            let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { tasks in
                for worker in 0..<32 {
                    tasks.addTask {
                        try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                            var statuses: [Int: Int] = [:]
                            for index in 0..<(10_000 / 32) {
                                // Every 50th request of a worker: the upstream drops the TLS connection unanswered.
                                let path = (index + worker) % 50 == 0 ? "/reset" : "/key"
                                let response = try await connection.send(
                                    .GET, "http://127.0.0.1:\(upstream.port)\(path)")
                                statuses[response.status, default: 0] += 1
                            }
                            return statuses
                        }
                    }
                }
                var all: [Int: Int] = [:]
                for try await statuses in tasks { all.merge(statuses, uniquingKeysWith: +) }
                return all
            }
            let resets = (0..<32).reduce(0) { total, worker in
                total + (0..<(10_000 / 32)).filter { ($0 + worker) % 50 == 0 }.count
            }
            #expect(statuses == [200: 32 * (10_000 / 32) - resets, 502: resets], "\(statuses)")
            #expect(edge.requester.requests.withLockedValue { $0 } == 1)
            // TLS connections are pooled: far fewer handshakes than requests. A reset costs two: on a reused
            // connection a request without a body is tried once more on a new one (it may have met an idle close).
            #expect(upstream.connections.withLockedValue { $0 } <= 2 * 32 + 2 * resets)
        }
    }
}
