import AsyncHTTPClient
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import SigilService

/// The proxy listener (default 127.0.0.1:7480) with its own HTTP client for upstream requests: no redirects
/// followed, no proxy of its own.
struct ProxyServer: Service {
    let context: ServiceContext
    let edge: EdgeConfiguration
    let access: AccessClient
    let view: ControlPlaneView

    func run() async throws {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let router = Router()
        router.add(
            middleware: ProxyMiddleware(access: access, view: view, client: client, context: context, edge: edge))
        let application = Application(
            router: router,
            configuration: .init(
                address: .hostname(edge.proxyHost, port: edge.proxyPort), serverName: "sigil-edge-proxy"),
            logger: context.logger
        )
        do {
            try await application.run()
        } catch {
            try? await client.shutdown()
            throw error
        }
        try await client.shutdown()
    }
}
