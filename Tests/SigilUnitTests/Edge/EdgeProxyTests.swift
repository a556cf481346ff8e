import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's data plane on real sockets: a keep-alive upstream, workloads on keep-alive connections, a fake
/// control plane. No broker, no database.
@Suite("Edge proxy: data plane, refusals, faults and credentials (one test at a time)", .serialized)
struct EdgeProxyTests {
    let group = MultiThreadedEventLoopGroup.singleton

    @Test("load: 20,000 requests over 64 keep-alive connections, every one answered 200 with the injected key")
    func load() async throws {
        try await withEdge { edge, upstream in
            let url = "http://127.0.0.1:\(upstream.port)/key"
            let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { tasks in
                for _ in 0..<64 {
                    tasks.addTask {
                        try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                            var statuses: [Int: Int] = [:]
                            for _ in 0..<(20_000 / 64 + 1) {
                                let response = try await connection.send(.GET, url, headers: ["x-api-key": "forged"])
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
            #expect(statuses == [200: 64 * (20_000 / 64 + 1)])
            // One access request for the whole load (single flight), and the upstream saw pooled connections only.
            #expect(edge.requester.requests.withLockedValue { $0 } == 1)
            #expect(upstream.connections.withLockedValue { $0 } <= 2 * 64)
            // Still serving afterwards.
            let after = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, url)
            }
            #expect(after.status == 200)
        }
    }

    @Test("the upstream pool stays within its limit and closes idle connections after the idle timeout")
    func poolLimits() async throws {
        try await withEdge(configure: {
            $0.upstreamMaxConnections = 2
            $0.upstreamIdleTimeout = .milliseconds(300)
        }) { edge, upstream in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { tasks in
                for _ in 0..<32 {
                    tasks.addTask {
                        try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                            var ok = 0
                            for _ in 0..<20 {
                                if try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key").status
                                    == 200
                                {
                                    ok += 1
                                }
                            }
                            return ok
                        }
                    }
                }
                return try await tasks.reduce(0, +)
            }
            #expect(statuses == 32 * 20)
            // Two proxy threads, at most two connections each.
            #expect(upstream.connections.withLockedValue { $0 } <= 4)
            let key = UpstreamPool.Key(host: "127.0.0.1", port: upstream.port)
            func open() async throws -> Int {
                var total = 0
                for loop in edge.server.group.makeIterator() {
                    total += try await loop.submit { edge.server.pool(on: loop).openConnections(to: key) }.get()
                }
                return total
            }
            #expect(try await open() > 0)
            try await Task.sleep(for: .milliseconds(700))
            #expect(try await open() == 0)
        }
    }

    @Test("1 GiB up and 1 GiB down stream through the edge in constant memory")
    func streaming() async throws {
        try await withEdge { edge, upstream in
            let gibibyte = 1 << 30
            let before = residentBytes()
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let upload = try await connection.send(
                    .POST, "http://127.0.0.1:\(upstream.port)/upload",
                    headers: ["content-length": "\(gibibyte)"], streamedBytes: gibibyte)
                #expect(upload.status == 200)
                #expect(upload.text == "\(gibibyte)")
                let chunked = try await connection.send(
                    .POST, "http://127.0.0.1:\(upstream.port)/upload",
                    headers: ["transfer-encoding": "chunked"], streamedBytes: 10 << 20)
                #expect(chunked.text == "\(10 << 20)")
                let download = try await connection.send(
                    .GET, "http://127.0.0.1:\(upstream.port)/download?bytes=\(gibibyte)", discardBody: true)
                #expect(download.status == 200)
                #expect(download.text == "\(gibibyte)")
            }
            let growth = residentBytes() - before
            #expect(growth <= 16 << 20, "RSS grew by \(growth >> 20) MiB")
        }
    }

    @Test("HEAD, 204 and 304 carry no body; the connection stays usable; Expect: 100-continue is answered")
    func bodilessResponses() async throws {
        try await withEdge { edge, upstream in
            let base = "http://127.0.0.1:\(upstream.port)"
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let head = try await connection.send(.HEAD, base + "/key")
                #expect(head.status == 200 && head.body.readableBytes == 0)
                #expect(head.headers["content-length"] == ["2"])
                #expect(try await connection.send(.GET, base + "/no-content").status == 204)
                #expect(try await connection.send(.GET, base + "/not-modified").status == 304)
                let echoed = try await connection.send(
                    .POST, base + "/upload", headers: ["expect": "100-continue"], body: "hello")
                #expect(echoed.status == 200 && echoed.text == "5")
                #expect(try await connection.send(.GET, base + "/key").status == 200)
            }
        }
    }

    @Test("the upstream sees Host from the target, one Via, no hop-by-hop fields, the issued key only")
    func proxySemantics() async throws {
        try await withEdge { edge, upstream in
            let response = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(
                    .GET, "http://127.0.0.1:\(upstream.port)/echo?x=1",
                    headers: HTTPHeaders([
                        ("Host", "elsewhere"), ("Connection", "X-Drop"), ("X-Drop", "1"), ("X-API-Key", "forged"),
                        ("Proxy-Authorization", "Basic Zm9vOmJhcg=="), ("Via", "1.0 corp"),
                    ]))
            }
            let echo = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as! [String: Any]
            let headers = (echo["headers"] as! [[String]]).map { ($0[0].lowercased(), $0[1]) }
            #expect(echo["uri"] as? String == "/echo?x=1")
            #expect(headers.filter { $0.0 == "host" }.map(\.1) == ["127.0.0.1:\(upstream.port)"])
            #expect(headers.filter { $0.0 == "via" }.map(\.1) == ["1.0 corp, 1.1 sigil-edge"])
            #expect(headers.filter { $0.0 == "x-api-key" }.map(\.1) == [TestUpstream.apiKey])
            #expect(!headers.contains { ["x-drop", "connection", "proxy-authorization"].contains($0.0) })
            #expect(response.headers["via"] == ["1.1 sigil-edge"])
        }
    }

    @Test("hosts that are not server workloads pass through untouched, or are refused when unmanaged=deny")
    func unmanaged() async throws {
        let other = try await TestUpstream(group: group)
        defer { Task { await other.close() } }
        try await withEdge { edge, _ in
            let response = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://localhost:\(other.port)/echo", headers: ["X-API-Key": "own"])
            }
            #expect(response.status == 200)
            #expect(response.text.contains("\"own\""))
            #expect(edge.requester.requests.withLockedValue { $0 } == 0)
        }
        try await withEdge(configure: { $0.unmanaged = .deny }) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let denied = try await connection.send(.GET, "http://localhost:\(other.port)/echo")
                #expect(denied.status == 403)
                #expect(denied.problemType == "urn:sigil:problem:unmanaged-host-denied")
                #expect(try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/key").status == 200)
            }
        }
    }

    @Test("CONNECT tunnels bytes to unmanaged hosts; CONNECT to a server workload is a 501 problem")
    func connect() async throws {
        let other = try await TestUpstream(group: group)
        defer { Task { await other.close() } }
        try await withEdge { edge, upstream in
            let tunnelled = try await rawExchange(
                port: edge.port, group: group,
                Array(
                    "CONNECT localhost:\(other.port) HTTP/1.1\r\nHost: localhost:\(other.port)\r\n\r\n".utf8),
                timeout: .milliseconds(500))
            #expect(tunnelled.hasPrefix("HTTP/1.1 200 Connection Established\r\n"))
            // Bytes through the tunnel reach the other server as they are (here: a request in origin form).
            let channel = try await ClientBootstrap(group: group).connect(host: "127.0.0.1", port: edge.port) {
                channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
            let answer = try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                try await outbound.write(ByteBuffer(string: "CONNECT localhost:\(other.port) HTTP/1.1\r\n\r\n"))
                var text = ""
                while !text.contains("\r\n\r\n"), let chunk = try await iterator.next() {
                    text += String(buffer: chunk)
                }
                try await outbound.write(
                    ByteBuffer(string: "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
                var reply = ""
                while let chunk = try await iterator.next() { reply += String(buffer: chunk) }
                return reply
            }
            #expect(answer.hasPrefix("HTTP/1.1 200 OK"))
            #expect(answer.contains("\"uri\":\"\\/echo\"") || answer.contains("\"uri\":\"/echo\""))

            let refused = try await rawExchange(
                port: edge.port, group: group,
                Array("CONNECT 127.0.0.1:\(upstream.port) HTTP/1.1\r\n\r\n".utf8), timeout: .seconds(2))
            #expect(refused.hasPrefix("HTTP/1.1 501"))
            #expect(refused.contains("connect-to-server-workload-unsupported"))
        }
    }
}
