import AsyncHTTPClient
import Foundation
import NIOCore

/// Asks a service's `/readyz`.
enum ReadinessProbe {
    enum Health: String {
        case ready
        case notReady = "not ready"
        case unreachable
    }

    static func check(
        port: Int, host: String = "127.0.0.1", path: String = "/readyz", client: HTTPClient = .shared
    ) async -> Health {
        do {
            var request = HTTPClientRequest(url: "http://\(host):\(port)\(path)")
            request.method = .GET
            let response = try await client.execute(request, timeout: .seconds(3))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return response.status == .ok ? .ready : .notReady
        } catch {
            return .unreachable
        }
    }
}
