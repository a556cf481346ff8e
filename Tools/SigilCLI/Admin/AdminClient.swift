import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilEvents

/// Talks to the services' admin APIs with the operator's token. Settings come from the environment, falling back
/// to the local constellation's `.sigil/dev/env`.
struct AdminClient {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Which service owns a kind, and its path under `/v1`.
    static let routes: [ResourceKind: (urlVariable: String, path: String)] = [
        .trustProvider: ("SIGIL_ATTEST_URL", "trust-providers"),
        .clientWorkload: ("SIGIL_ATTEST_URL", "client-workloads"),
        .serverWorkload: ("SIGIL_POLICY_URL", "server-workloads"),
        .accessPolicy: ("SIGIL_POLICY_URL", "access-policies"),
        .credentialProvider: ("SIGIL_ISSUE_URL", "credential-providers"),
        .logStream: ("SIGIL_AUDIT_URL", "log-streams"),
    ]

    let settings: [String: String]
    let client = HTTPClient.shared

    init(envFile: String = ".sigil/dev/env") {
        var settings = DevState(directory: URL(fileURLWithPath: envFile).deletingLastPathComponent().path).readEnv()
        for (key, value) in ProcessInfo.processInfo.environment where key.hasPrefix("SIGIL_") { settings[key] = value }
        self.settings = settings
    }

    func setting(_ name: String) throws -> String {
        guard let value = settings[name], !value.isEmpty else {
            throw Failure(
                description: "\(name) is not set (export it, or start the local constellation with `sigil dev up`)")
        }
        return value
    }

    func url(for kind: ResourceKind, name: String? = nil) throws -> String {
        guard let route = Self.routes[kind] else {
            throw Failure(description: "\(kind.rawValue) is not managed through an admin API")
        }
        return try setting(route.urlVariable) + "/v1/\(route.path)" + (name.map { "/\($0)" } ?? "")
    }

    /// Sends a request; returns status and body. A problem document becomes the error's text.
    func send(_ method: HTTPMethod, _ url: String, body: Data? = nil) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(try setting("SIGIL_ADMIN_TOKEN"))")
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), Data(buffer: bytes))
    }

    /// The `detail` of a problem document, or the body.
    static func describe(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let detail = object["detail"] as? String
        {
            return detail
        }
        return String(decoding: body.prefix(500), as: UTF8.self)
    }
}
