import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's refusals and faults on real sockets: a keep-alive upstream, workloads on keep-alive connections, a fake
/// control plane. No broker, no database. Part of `EdgeProxyTests`, whose tests run one at a time.
extension EdgeProxyTests {
    @Test("hostile input gets a specific refusal and the edge keeps serving")
    func hostileInput() async throws {
        try await withEdge { edge, upstream in
            let target = "http://127.0.0.1:\(upstream.port)/key"
            let cases: [(String, [UInt8], String)] = [
                ("malformed request line", Array("GARBAGE\r\n\r\n".utf8), "HTTP/1.1 400"),
                (
                    "header block over 64 KiB",
                    Array("GET \(target) HTTP/1.1\r\nX-Big: \(String(repeating: "a", count: 70_000))\r\n\r\n".utf8),
                    "HTTP/1.1 431"
                ),
                (
                    "Content-Length and Transfer-Encoding",
                    Array(
                        "POST \(target) HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                            .utf8), "HTTP/1.1 400"
                ),
                (
                    "two different Content-Lengths",
                    Array("POST \(target) HTTP/1.1\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde".utf8),
                    "HTTP/1.1 400"
                ),
                ("origin-form request", Array("GET /key HTTP/1.1\r\nHost: x\r\n\r\n".utf8), "HTTP/1.1 400"),
                (
                    "request to the proxy itself",
                    Array("GET http://127.0.0.1:\(edge.port)/ HTTP/1.1\r\n\r\n".utf8), "HTTP/1.1 400"
                ),
                ("NUL in the target", Array("GET http://a\u{0}b/ HTTP/1.1\r\n\r\n".utf8), "HTTP/1.1 400"),
            ]
            for (name, bytes, expected) in cases {
                let answer = try await rawExchange(port: edge.port, group: group, bytes, timeout: .milliseconds(700))
                #expect(answer.hasPrefix(expected), "\(name): \(answer.prefix(80))")
            }
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let refused = try await connection.send(.GET, "http://127.0.0.1:1/")
                #expect(refused.status == 502)
                #expect(refused.problemType == "urn:sigil:problem:upstream-unreachable")
                let reset = try await connection.send(.GET, "http://localhost:\(upstream.port)/reset")
                #expect(reset.status == 502)
                #expect(reset.problemType == "urn:sigil:problem:upstream-reset")
                #expect(try await connection.send(.GET, target).status == 200)
            }
        }
    }

    @Test("an upstream that answers before the upload ends: the workload gets the answer, its connection goes on")
    func earlyResponse() async throws {
        try await withEdge { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let early = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/early", headers: ["content-length": "\(8 << 20)"],
                    streamedBytes: 8 << 20)
                #expect(early.status == 401 && early.text == "refused early")
                #expect(try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key").status == 200)
            }
        }
    }

    @Test("an upstream that does not answer is a 504 within the response timeout")
    func upstreamTimeout() async throws {
        try await withEdge(configure: { $0.upstreamResponseTimeout = .milliseconds(300) }) { edge, upstream in
            let started = ContinuousClock.now
            let response = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://localhost:\(upstream.port)/slow")
            }
            #expect(response.status == 504)
            #expect(response.problemType == "urn:sigil:problem:upstream-timeout")
            #expect(ContinuousClock.now - started < .seconds(2))
            // The timeout runs from the request's last byte: an upload slower than it is not cut short.
            let slowUpload = try await slowUpload(through: edge, to: upstream, kibibytes: 8)
            #expect(slowUpload.status == 200 && slowUpload.text == "\(8 * 1024)")
        }
    }

    @Test(
        "a request body that stops arriving is a 408 after the idle timeout, its upstream connection dropped; a slow one goes on"
    )
    func bodyTimeout() async throws {
        try await withEdge(configure: { $0.clientIdleTimeout = .milliseconds(600) }) { edge, upstream in
            // Ten bytes of a hundred, then nothing.
            let started = ContinuousClock.now
            let stalled = try await rawExchange(
                port: edge.port, group: group,
                Array(
                    ("POST http://127.0.0.1:\(upstream.port)/upload HTTP/1.1\r\nHost: 127.0.0.1:\(upstream.port)\r\n"
                        + "Content-Length: 100\r\n\r\n0123456789").utf8),
                timeout: .seconds(5))
            #expect(stalled.hasPrefix("HTTP/1.1 408"), "\(stalled)")
            #expect(stalled.contains("request-body-timeout") && stalled.contains("for 600 ms"), "\(stalled)")
            #expect(ContinuousClock.now - started < .seconds(3), "one to two timeouts, not the exchange's 5 s")
            #expect(try await pooled(edge, upstream) == 0, "a request cut short leaves no connection to reuse")

            // A kibibyte every 50 ms for 1.5 s: two and a half timeouts in all, each with a dozen reads (room for a busy
            // machine's late wake-ups).
            let slow = try await slowUpload(through: edge, to: upstream, kibibytes: 30, every: .milliseconds(50))
            #expect(slow.status == 200 && slow.text == "\(30 * 1024)")
        }
    }

    @Test("a workload gone mid-upload: the upstream request is dropped, its connection not pooled")
    func clientGoneMidBody() async throws {
        try await withEdge { edge, upstream in
            _ = try await rawExchange(
                port: edge.port, group: group,
                Array(
                    "POST http://127.0.0.1:\(upstream.port)/upload HTTP/1.1\r\nContent-Length: 1000000\r\n\r\nabc".utf8),
                timeout: .milliseconds(300))
            try await Task.sleep(for: .milliseconds(200))
            #expect(try await pooled(edge, upstream) == 0)
            let after = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
            }
            #expect(after.status == 200)
        }
    }

    /// A POST of `kibibytes` KiB to the upstream's `/upload` through the edge, one KiB at a time: the response.
    func slowUpload(
        through edge: EdgeUnderTest, to upstream: TestUpstream, kibibytes: Int,
        every interval: Duration = .milliseconds(100)
    ) async throws -> ProxiedResponse {
        try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
            try await connection.outbound.write(
                .head(
                    HTTPRequestHead(
                        version: .http1_1, method: .POST, uri: "http://127.0.0.1:\(upstream.port)/upload",
                        headers: ["content-length": "\(kibibytes * 1024)"])))
            for _ in 0..<kibibytes {
                try await connection.outbound.write(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 1024))))
                try await Task.sleep(for: interval)
            }
            try await connection.outbound.write(.end(nil))
            return try await connection.read()
        }
    }

    /// The idle connections the edge pools to the upstream (on one of its loops).
    func pooled(_ edge: EdgeUnderTest, _ upstream: TestUpstream) async throws -> Int {
        try await edge.server.group.next().submit {
            edge.server.pool(on: MultiThreadedEventLoopGroup.currentEventLoop!).idleConnections(
                to: .init(host: "127.0.0.1", port: upstream.port))
        }.get()
    }
}
