import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import SigilEvents
import SigilService

/// The explicit forward proxy: workloads send absolute-form requests (`HTTP_PROXY`). A request to a server
/// workload gets a credential injected (replacing whatever the client sent in that header); any other request is
/// forwarded untouched. Refusals are 403 problems naming stage and reason; no answer in time is a 503.
struct ProxyMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let access: AccessClient
    let view: ControlPlaneView
    let client: HTTPClient
    let context: ServiceContext
    let edge: EdgeConfiguration

    static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let started = ContinuousClock.now
        guard request.method != .connect else {
            return problem(
                .notImplemented, slug: "connect-unsupported",
                detail: "CONNECT tunnels (HTTPS interception) are not supported yet; send plain HTTP through the proxy")
        }
        guard let authority = request.head.authority,
            let target = Self.target(scheme: request.head.scheme ?? "http", authority: authority)
        else {
            return problem(
                .badRequest, slug: "not-a-proxy-request",
                detail: "send absolute-form requests (set HTTP_PROXY to this address)")
        }
        if target.port == edge.proxyPort && ["127.0.0.1", "localhost", "::1", edge.proxyHost].contains(target.host) {
            return problem(
                .badRequest, slug: "not-a-proxy-request", detail: "the request is addressed to the proxy itself")
        }
        var headers = HTTPHeaders()
        for field in request.headers where !Self.hopByHop.contains(field.name.canonicalName) {
            headers.add(name: field.name.rawName, value: field.value)
        }
        var requestID: String?
        if view.serverWorkload(target) != nil {
            do {
                let credential = try await access.credential(for: target, logger: context.logger)
                requestID = credential.requestID
                let header = credential.inject == "header" ? (credential.header ?? "Authorization") : "Authorization"
                headers.remove(name: header)
                headers.add(
                    name: header, value: credential.inject == "bearer" ? "Bearer \(credential.value)" : credential.value
                )
            } catch {
                return refusal(error)
            }
        }

        var outgoing = HTTPClientRequest(
            url: "\(target.scheme)://\(authority)\(request.uri.path)\(request.uri.query.map { "?\($0)" } ?? "")")
        outgoing.method = .init(rawValue: request.method.rawValue)
        outgoing.headers = headers
        outgoing.body = .stream(
            request.body,
            length: request.headers[.contentLength].flatMap(Int.init).map { .known(Int64($0)) } ?? .unknown)
        let upstream: HTTPClientResponse
        do {
            upstream = try await client.execute(outgoing, timeout: .seconds(30))
        } catch {
            context.logger.warning("upstream unreachable", metadata: ["target": "\(authority)", "error": "\(error)"])
            return problem(
                .badGateway, slug: "upstream-unreachable", detail: "the upstream \(authority) did not answer")
        }
        var responseHeaders = HTTPFields()
        for (name, value) in upstream.headers where !Self.hopByHop.contains(name.lowercased()) {
            if let fieldName = HTTPField.Name(name) { responseHeaders.append(HTTPField(name: fieldName, value: value)) }
        }
        report(
            target: target, requestID: requestID, status: Int(upstream.status.code),
            bytes: Int(upstream.headers.first(name: "content-length") ?? "") ?? 0, started: started)
        return Response(
            status: .init(code: Int(upstream.status.code)),
            headers: responseHeaders,
            body: ResponseBody(asyncSequence: upstream.body)
        )
    }

    static func target(scheme: String, authority: String) -> AccessTarget? {
        guard ["http", "https"].contains(scheme) else { return nil }
        let defaultPort = scheme == "https" ? 443 : 80
        if authority.hasPrefix("[") {  // IPv6 literal
            guard let close = authority.firstIndex(of: "]") else { return nil }
            let host = String(authority[authority.index(after: authority.startIndex)..<close])
            let rest = authority[authority.index(after: close)...]
            let port = rest.hasPrefix(":") ? Int(rest.dropFirst()) : defaultPort
            return port.map { AccessTarget(scheme: scheme, host: host.lowercased(), port: $0) }
        }
        let parts = authority.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].isEmpty else { return nil }
        let port = parts.count == 2 ? Int(parts[1]) : defaultPort
        guard let port, (1...65_535).contains(port) else { return nil }
        return AccessTarget(scheme: scheme, host: parts[0].lowercased(), port: port)
    }

    private func refusal(_ refusal: EdgeRefusal) -> Response {
        var document = ProblemDetails(
            status: refusal.kind == .refused ? .forbidden : .serviceUnavailable,
            slug: refusal.kind == .refused ? "access-refused" : "control-plane-unavailable",
            title: refusal.kind == .refused ? "Access refused" : "Control plane unavailable",
            detail: "\(refusal.stage): \(refusal.code): \(refusal.detail)"
        )
        document.stage = refusal.stage
        document.reason = refusal.code
        return (try? document.response()) ?? Response(status: document.status)
    }

    private func problem(_ status: HTTPResponse.Status, slug: String, detail: String) -> Response {
        let document = ProblemDetails(status: status, slug: slug, title: status.reasonPhrase, detail: detail)
        return (try? document.response()) ?? Response(status: status)
    }

    private func report(
        target: AccessTarget, requestID: String?, status: Int, bytes: Int, started: ContinuousClock.Instant
    ) {
        let elapsed = ContinuousClock.now - started
        let milliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        let activity = RequestProxied(
            edgeID: edge.edgeID, requestID: requestID, target: target, status: status, bytes: bytes,
            latencyMilliseconds: milliseconds)
        if let event = try? activity.cloudEvent(source: context.source, tenant: edge.tenant, partitionKey: edge.edgeID)
        {
            try? context.producer.send(event.kafkaMessage(topic: context.topics.name(.edgeActivity)))
        }
    }
}
