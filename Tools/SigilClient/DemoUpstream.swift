import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// The demo's protected API: answers 200 only to requests carrying its API key, and counts what it saw. `/identity`
/// takes a bearer token (a JWT Sigil minted) and keeps the last one, for a test to verify against Sigil's JWKS.
public final class DemoUpstream: Sendable {
    public let apiKey: String
    private let counts = Mutex<(authorized: Int, rejected: Int)>((0, 0))
    private let bearer = Mutex<String?>(nil)

    /// The last bearer token `/identity` received.
    public var lastBearerToken: String? { bearer.withLock { $0 } }
    private let boundPorts = Mutex<[Int]>([])

    public init(apiKey: String) { self.apiKey = apiKey }

    public var authorized: Int { counts.withLock { $0.authorized } }
    public var rejected: Int { counts.withLock { $0.rejected } }
    /// The port of the first application started (see `application`).
    public var port: Int? { boundPorts.withLock { $0.first } }
    /// Every port it listens on: one per application started (the same API on many ports stands in for many APIs).
    public var ports: [Int] { boundPorts.withLock { $0 } }

    /// The API on `host:port` (port 0: any free port, see `port`).
    public func application(host: String = "127.0.0.1", port: Int = 0) -> some ApplicationProtocol {
        let router = Router()
        router.get("/reports") { request, _ -> Response in
            guard request.headers[HTTPField.Name("X-API-Key")!] == self.apiKey else {
                self.counts.withLock { $0.rejected += 1 }
                return Response(
                    status: .unauthorized, body: .init(byteBuffer: ByteBuffer(string: "missing or wrong API key\n")))
            }
            self.counts.withLock { $0.authorized += 1 }
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "quarterly report: all green\n")))
        }
        // `/identity` and below: records the bearer token it was sent (a minted JWT, an OAuth access token).
        for path in ["/identity", "/identity/**"] {
            router.get(RouterPath(path)) { request, _ -> Response in
                let header = request.headers[.authorization] ?? ""
                guard header.hasPrefix("Bearer ") else { return Response(status: .unauthorized) }
                self.bearer.withLock { $0 = String(header.dropFirst(7)) }
                return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "identity token received\n")))
            }
        }
        // `/echo/...`: what arrived of the credential — the Authorization header and the query — for the tests.
        router.get("/echo/**") { request, _ -> Response in
            let text = "authorization=\(request.headers[.authorization] ?? "")\nquery=\(request.uri.query ?? "")\n"
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        var logger = Logger(label: "sigil.demo.upstream")
        logger.logLevel = .warning
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "demo-upstream"),
            onServerRunning: { channel in
                if let port = channel.localAddress?.port { self.boundPorts.withLock { $0.append(port) } }
            },
            logger: logger
        )
    }
}
