import Foundation
import Hummingbird
import Logging
import Synchronization

/// A posture feed API for tests, both kinds on one port: CrowdStrike Falcon-style (`/oauth2/token`, device query and
/// details, Zero Trust Assessments) and Wiz-style (`/oauth/token`, `/graphql` with kubernetesClusters, one cluster per
/// page so cursors are exercised). Every API call needs a bearer token it issued to the right client credentials.
public final class FakePostureFeeds: Sendable {
    public struct Host: Sendable {
        public var hostname: String
        public var instanceID: String?
        public var status: String
        public var score: Int
        public var lastSeen: Date
        public init(hostname: String, instanceID: String? = nil, status: String = "normal", score: Int, lastSeen: Date)
        {
            self.hostname = hostname
            self.instanceID = instanceID
            self.status = status
            self.score = score
            self.lastSeen = lastSeen
        }
    }

    public struct Cluster: Sendable {
        public var name: String
        public var status: String
        public var critical: Int
        public var high: Int
        public var lastSeen: Date
        public init(name: String, status: String = "CONNECTED", critical: Int = 0, high: Int = 0, lastSeen: Date) {
            self.name = name
            self.status = status
            self.critical = critical
            self.high = high
            self.lastSeen = lastSeen
        }
    }

    struct State {
        var hosts: [String: Host] = [:]
        var clusters: [Cluster] = []
        var tokens: Set<String> = []
        var tokensIssued = 0
        var failing = false
    }

    public let clientID: String
    public let clientSecret: String
    private let state = Mutex(State())
    private let boundPort = Mutex<Int?>(nil)

    public init(clientID: String = "sigil-test", clientSecret: String = "secret-" + UUID().uuidString) {
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    public var port: Int? { boundPort.withLock { $0 } }
    public var tokensIssued: Int { state.withLock { $0.tokensIssued } }

    /// Sets a host (by device id).
    public func host(_ id: String, _ host: Host) { state.withLock { $0.hosts[id] = host } }
    public func clusters(_ clusters: [Cluster]) { state.withLock { $0.clusters = clusters } }
    /// Answers 503 to everything while set.
    public func fail(_ failing: Bool) { state.withLock { $0.failing = failing } }

    public func application() -> some ApplicationProtocol {
        let router = Router()
        for path in ["/oauth2/token", "/oauth/token"] {
            router.post(RouterPath(path)) { request, _ -> Response in
                let body = String(buffer: try await request.body.collect(upTo: 64 * 1024))
                var form: [String: String] = [:]
                for pair in body.split(separator: "&") {
                    let parts = pair.split(separator: "=", maxSplits: 1).map {
                        String($0).removingPercentEncoding ?? ""
                    }
                    if parts.count == 2 { form[parts[0]] = parts[1] }
                }
                return self.state.withLock { state in
                    if state.failing { return Response(status: .serviceUnavailable) }
                    guard form["client_id"] == self.clientID, form["client_secret"] == self.clientSecret,
                        form["grant_type"] == "client_credentials"
                    else { return Self.json(.unauthorized, #"{"errors":[{"code":401,"message":"access denied"}]}"#) }
                    let token = UUID().uuidString
                    state.tokens.insert(token)
                    state.tokensIssued += 1
                    return Self.json(.created, #"{"access_token":"\#(token)","token_type":"bearer","expires_in":1799}"#)
                }
            }
        }
        router.get("/devices/queries/devices/v1") { request, _ -> Response in
            try self.authorized(request) { state in
                let ids = state.hosts.keys.sorted()
                let quoted = ids.map { "\"\($0)\"" }.joined(separator: ",")
                return Self.json(.ok, #"{"meta":{"pagination":{"total":\#(ids.count)}},"resources":[\#(quoted)]}"#)
            }
        }
        router.post("/devices/entities/devices/v2") { request, _ -> Response in
            struct Query: Decodable { let ids: [String] }
            let query = try JSONDecoder().decode(Query.self, from: try await request.body.collect(upTo: 1024 * 1024))
            return try self.authorized(request) { state in
                let devices = query.ids.compactMap { id -> String? in
                    guard let host = state.hosts[id] else { return nil }
                    let instance = host.instanceID.map { #","instance_id":"\#($0)""# } ?? ""
                    return
                        #"{"device_id":"\#(id)","hostname":"\#(host.hostname)","status":"\#(host.status)","last_seen":"\#(Self.time(host.lastSeen))"\#(instance)}"#
                }
                return Self.json(.ok, #"{"resources":[\#(devices.joined(separator: ","))]}"#)
            }
        }
        router.get("/zero-trust-assessment/entities/assessments/v1") { request, _ -> Response in
            let ids = (request.uri.query ?? "").split(separator: "&").compactMap { pair -> String? in
                pair.hasPrefix("ids=") ? String(pair.dropFirst(4)).removingPercentEncoding : nil
            }
            return try self.authorized(request) { state in
                let scores = ids.compactMap { id in
                    state.hosts[id].map { #"{"aid":"\#(id)","assessment":{"overall":\#($0.score)}}"# }
                }
                return Self.json(.ok, #"{"resources":[\#(scores.joined(separator: ","))]}"#)
            }
        }
        router.post("/graphql") { request, _ -> Response in
            struct Query: Decodable {
                struct Variables: Decodable { let after: String? }
                let variables: Variables
            }
            let query = try JSONDecoder().decode(Query.self, from: try await request.body.collect(upTo: 1024 * 1024))
            return try self.authorized(request) { state in
                let index = Int(query.variables.after ?? "0") ?? 0
                guard index < state.clusters.count else {
                    return Self.json(
                        .ok,
                        #"{"data":{"kubernetesClusters":{"nodes":[],"pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#
                    )
                }
                let cluster = state.clusters[index]
                let node =
                    #"{"name":"\#(cluster.name)","status":"\#(cluster.status)","lastSeen":"\#(Self.time(cluster.lastSeen))","criticalIssueCount":\#(cluster.critical),"highIssueCount":\#(cluster.high)}"#
                let more = index + 1 < state.clusters.count
                return Self.json(
                    .ok,
                    #"{"data":{"kubernetesClusters":{"nodes":[\#(node)],"pageInfo":{"hasNextPage":\#(more),"endCursor":"\#(index + 1)"}}}}"#
                )
            }
        }
        var logger = Logger(label: "test.posture-feeds")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in self.boundPort.withLock { $0 = channel.localAddress?.port } },
            logger: logger)
    }

    private func authorized(_ request: Request, _ answer: (State) -> Response) throws -> Response {
        let header = request.headers[.authorization] ?? ""
        return state.withLock { state in
            if state.failing { return Response(status: .serviceUnavailable) }
            guard header.hasPrefix("Bearer "), state.tokens.contains(String(header.dropFirst(7))) else {
                return Response(status: .unauthorized)
            }
            return answer(state)
        }
    }

    static func time(_ date: Date) -> String { date.formatted(.iso8601) }

    static func json(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
