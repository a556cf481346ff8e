import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents

@testable import EdgeProxy

/// The control plane as a test wants it: counts access requests, answers after `delay` with the upstream's key
/// (or refuses), and remembers the tokens it was shown.
final class FakeAccessRequester: AccessRequester {
    let requests = NIOLockedValueBox(0)
    let tokens = NIOLockedValueBox<[String]>([])
    /// Each access request's server workload and what the edge said of the request.
    let asked = NIOLockedValueBox<[(serverWorkload: String, request: RequestAttributes)]>([])
    let delay: Duration
    let lifetime: TimeInterval
    let refusal: EdgeRefusal?
    /// How the issued credential is injected (the upstream's key in `X-API-Key` unless a test says otherwise).
    let injection: HeldCredential.Injection
    /// The TLS an `x509` credential brings (its client certificate).
    let upstreamTLS: UpstreamTLS?

    init(
        delay: Duration = .milliseconds(50), lifetime: TimeInterval = 300, refusal: EdgeRefusal? = nil,
        injection: HeldCredential.Injection = .header(name: "X-API-Key", value: TestUpstream.apiKey),
        upstreamTLS: UpstreamTLS? = nil
    ) {
        self.upstreamTLS = upstreamTLS
        self.delay = delay
        self.lifetime = lifetime
        self.refusal = refusal
        self.injection = injection
    }

    func requestCredential(
        for workload: EdgeServerWorkload, request: RequestAttributes, evidence: WorkloadEvidence.Gathered,
        deadline: ContinuousClock.Instant, logger: Logger
    ) async throws(EdgeRefusal) -> HeldCredential {
        let number = requests.withLockedValue {
            $0 += 1
            return $0
        }
        tokens.withLockedValue { $0.append(contentsOf: evidence.evidence.tokens) }
        asked.withLockedValue { $0.append((workload.name, request)) }
        if ContinuousClock.now + delay > deadline {
            try? await Task.sleep(until: deadline, clock: .continuous)
            throw EdgeRefusal(kind: .unavailable, stage: "edge", code: "control-plane-timeout", detail: "test")
        }
        try? await Task.sleep(for: delay)
        if let refusal { throw refusal }
        return HeldCredential(
            requestID: "request-\(number)", injection: injection, obtainedAt: Date(),
            expiresAt: Date().addingTimeInterval(lifetime), upstreamTLS: upstreamTLS)
    }
}

/// An edge proxy on 127.0.0.1 (system-chosen port) with a fake control plane, a token file, and one server workload
/// `test-api` at the test upstream.
final class EdgeUnderTest: Sendable {
    let server: ProxyServer
    let requester: FakeAccessRequester
    let evidence: WorkloadEvidence
    let tokenFile: String
    let port: Int
    /// The edge's server workloads (`test-api` at the upstream) and what their policies examine, as a test sets them.
    let serverWorkloads: ServerWorkloadIndex
    let inputs = DecisionInputIndex()
    let events = NIOLockedValueBox<[any EventPayload]>([])
    let credentials: CredentialBroker

    init(
        group: MultiThreadedEventLoopGroup, upstream: TestUpstream, requester: FakeAccessRequester = .init(),
        configure: (inout EdgeConfiguration) -> Void = { _ in }
    ) async throws {
        var configuration = EdgeConfiguration(testEdgeID: "edge-test")
        configure(&configuration)
        tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-edge-\(UUID()).token").path
        try "token-one".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let logger = Logger(label: "edge-test")
        evidence = WorkloadEvidence(tokenFiles: [tokenFile], logger: logger)
        self.requester = requester
        let credentials = CredentialBroker(
            evidence: evidence, requester: requester, timeout: configuration.timeout, logger: logger, inputs: inputs,
            refusalHold: configuration.refusalHold)
        self.credentials = credentials
        let index = ServerWorkloadIndex([
            EdgeServerWorkload(
                name: "test-api", target: AccessTarget(scheme: "http", host: "127.0.0.1", port: upstream.port),
                reportsEachRequest: false)
        ])
        serverWorkloads = index
        let events = self.events
        let reporter = ActivityReporter(
            edgeID: configuration.edgeID, interval: .seconds(3600), loops: Array(group.makeIterator())
        ) { event in events.withLockedValue { $0.append(event) } }
        server = ProxyServer(
            environment: ProxyEnvironment(
                configuration: configuration, serverWorkloads: index, credentials: credentials, reporter: reporter,
                logger: logger),
            group: group)
        port = try await server.bind().port!
    }

    func close() async {
        await server.close()
        try? await server.group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: tokenFile)
    }
}

/// A response as the workload sees it.
struct ProxiedResponse {
    let status: Int
    let headers: HTTPHeaders
    let body: ByteBuffer
    var text: String { String(buffer: body) }
    /// The `type` of a problem document.
    var problemType: String? {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any])?["type"] as? String
    }
}

/// One keep-alive connection of a workload to the proxy, sending absolute-form requests.
struct WorkloadConnection {
    var inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>.AsyncIterator
    let outbound: NIOAsyncChannelOutboundWriter<HTTPClientRequestPart>

    static func with<Result>(
        proxyPort: Int, group: any EventLoopGroup, _ body: (inout WorkloadConnection) async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: proxyPort) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var connection = WorkloadConnection(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&connection)
        }
    }

    /// Sends one request (the body in `chunks` of `chunkSize`, or `body`) and reads the whole response.
    /// `discardBody` counts response bytes without keeping them (large downloads).
    mutating func send(
        _ method: HTTPMethod = .GET, _ uri: String, headers: HTTPHeaders = [:], body: String? = nil,
        streamedBytes: Int = 0, discardBody: Bool = false
    ) async throws -> ProxiedResponse {
        var headers = headers
        if let body { headers.replaceOrAdd(name: "content-length", value: String(body.utf8.count)) }
        try await outbound.write(.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)))
        if let body { try await outbound.write(.body(.byteBuffer(ByteBuffer(string: body)))) }
        if streamedBytes > 0 {
            let chunk = ByteBuffer(repeating: 0x62, count: 64 * 1024)
            var remaining = streamedBytes
            while remaining > 0 {
                let size = min(remaining, chunk.readableBytes)
                try await outbound.write(.body(.byteBuffer(chunk.getSlice(at: 0, length: size)!)))
                remaining -= size
            }
        }
        try await outbound.write(.end(nil))
        return try await read(discardBody: discardBody)
    }

    mutating func read(discardBody: Bool = false) async throws -> ProxiedResponse {
        var head: HTTPResponseHead?
        var body = ByteBuffer()
        var counted = 0
        while let part = try await inbound.next() {
            switch part {
            case .head(let received): head = received
            case .body(var bytes):
                if discardBody { counted += bytes.readableBytes } else { body.writeBuffer(&bytes) }
            case .end:
                if discardBody { body.writeString(String(counted)) }
                return ProxiedResponse(status: Int(head!.status.code), headers: head!.headers, body: body)
            }
        }
        throw CancellationError()
    }
}

/// Sends raw bytes to a port and returns everything received until the peer closes (or `timeout`).
func rawExchange(
    port: Int, group: any EventLoopGroup, _ bytes: [UInt8], timeout: Duration = .seconds(5)
) async throws
    -> String
{
    let channel = try await ClientBootstrap(group: group)
        .channelOption(.allowRemoteHalfClosure, value: true)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(bytes: bytes))
        let received = NIOLockedValueBox(ByteBuffer())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await Task.sleep(for: timeout) }
            group.addTask {
                for try await var chunk in inbound { received.withLockedValue { $0.writeBuffer(&chunk) } }
            }
            try await group.next()
            group.cancelAll()
        }
        return String(buffer: received.withLockedValue { $0 })
    }
}

/// The resident set size of this process, in bytes.
func residentBytes() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
        let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") })
    else { return 0 }
    return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
}

/// Runs `body` against a fresh edge (two proxy threads) and a fresh test upstream, closing both afterwards.
func withEdge(
    requester: FakeAccessRequester = .init(), configure: (inout EdgeConfiguration) -> Void = { _ in },
    _ body: (EdgeUnderTest, TestUpstream) async throws -> Void
) async throws {
    let upstream = try await TestUpstream(group: MultiThreadedEventLoopGroup.singleton)
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
