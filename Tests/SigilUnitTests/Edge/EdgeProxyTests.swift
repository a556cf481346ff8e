import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's data plane on real sockets: a keep-alive upstream, workloads on keep-alive connections, a fake
/// control plane. No broker, no database.
@Suite("Edge proxy: data plane", .serialized)
struct EdgeProxyTests {
    let group = MultiThreadedEventLoopGroup.singleton

    private func withEdge(
        requester: FakeAccessRequester = .init(), configure: (inout EdgeConfiguration) -> Void = { _ in },
        _ body: (EdgeUnderTest, TestUpstream) async throws -> Void
    ) async throws {
        let upstream = try await TestUpstream(group: group)
        let edge = try await EdgeUnderTest(
            group: MultiThreadedEventLoopGroup(numberOfThreads: 2), upstream: upstream, requester: requester,
            configure: configure)
        do {
            try await body(edge, upstream)
        } catch {
            await edge.close()
            await upstream.close()
            throw error
        }
        await edge.close()
        await upstream.close()
    }

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
            let slowUpload = try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                try await connection.outbound.write(
                    .head(
                        HTTPRequestHead(
                            version: .http1_1, method: .POST, uri: "http://127.0.0.1:\(upstream.port)/upload",
                            headers: ["content-length": "\(8 * 1024)"])))
                for _ in 0..<8 {
                    try await connection.outbound.write(.body(.byteBuffer(ByteBuffer(repeating: 0x61, count: 1024))))
                    try await Task.sleep(for: .milliseconds(100))
                }
                try await connection.outbound.write(.end(nil))
                return try await connection.read()
            }
            #expect(slowUpload.status == 200 && slowUpload.text == "\(8 * 1024)")
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
            let pooled = try await edge.server.group.next().submit {
                edge.server.pool(on: MultiThreadedEventLoopGroup.currentEventLoop!).idleConnections(
                    to: .init(host: "127.0.0.1", port: upstream.port))
            }.get()
            #expect(pooled == 0)
            let after = try await WorkloadConnection.with(proxyPort: edge.port, group: group) {
                try await $0.send(.GET, "http://127.0.0.1:\(upstream.port)/key")
            }
            #expect(after.status == 200)
        }
    }

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
        try await withEdge(requester: FakeAccessRequester(delay: .milliseconds(400), lifetime: 1)) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let url = "http://127.0.0.1:\(upstream.port)/key"
                #expect(try await connection.send(.GET, url).status == 200)
                try await Task.sleep(for: .milliseconds(850))
                // Past 80%: this request uses the held credential at once and starts the refresh.
                let started = ContinuousClock.now
                #expect(try await connection.send(.GET, url).status == 200)
                #expect(ContinuousClock.now - started < .milliseconds(300))
                try await Task.sleep(for: .milliseconds(600))
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
