import Atomics
import NIOCore
import NIOSSL
import Synchronization

/// TLS the edge originates to an `https` server workload: the upstream's certificate verified against the server
/// workload's `ca` (or the system's roots) and its name (`serverName`, else the host; an IP address is checked against
/// the certificate's IP SANs), TLS 1.2 at least, and — for an `x509` credential — the client certificate presented.
/// Built once per server workload definition and per client certificate; pooled connections are keyed by `id`, so a
/// connection made with one credential's certificate never carries another's request.
final class UpstreamTLS: Sendable {
    private static let counter = ManagedAtomic<UInt64>(0)

    let id: UInt64
    let context: NIOSSLContext
    /// Sent as SNI and verified; nil for an IP address (checked against the socket's address instead).
    let serverName: String?
    let configuration: TLSConfiguration

    init(configuration: TLSConfiguration, context: NIOSSLContext? = nil, serverName: String?) throws {
        self.id = Self.counter.wrappingIncrementThenLoad(ordering: .relaxed)
        self.configuration = configuration
        self.context = try context ?? NIOSSLContext(configuration: configuration)
        self.serverName = serverName
    }

    /// For a server workload: its CA (PEM) or the system's roots, and the name to verify. The context (loading trust
    /// roots costs tens of milliseconds) is shared by every server workload with the same CA: a tenant with thousands
    /// of https server workloads pays for it once, not per definition.
    convenience init(ca: String?, serverName: String?, host: String) throws {
        let (configuration, context) = try Self.serverContext(ca: ca)
        let name = serverName ?? host
        try self.init(
            configuration: configuration, context: context, serverName: Self.isIPAddress(name) ? nil : name)
    }

    private static let serverContexts = Mutex<[String: (TLSConfiguration, NIOSSLContext)]>([:])

    private static func serverContext(ca: String?) throws -> (TLSConfiguration, NIOSSLContext) {
        let key = ca ?? ""
        if let known = serverContexts.withLock({ $0[key] }) { return known }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        configuration.certificateVerification = .fullVerification
        if let ca {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)))
        }
        let made = (configuration, try NIOSSLContext(configuration: configuration))
        serverContexts.withLock { $0[key] = made }
        return made
    }

    /// The same trust, presenting a client certificate chain (PEM, leaf first) and its key.
    func presenting(chainPEM: String, keyPEM: String) throws -> UpstreamTLS {
        var configuration = self.configuration
        configuration.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(chainPEM.utf8)).map {
            .certificate($0)
        }
        configuration.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem))
        return try UpstreamTLS(configuration: configuration, serverName: serverName)
    }

    /// The handler that wraps an upstream connection.
    func handler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverName)
    }

    static func isIPAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}

/// What a failed upstream handshake means, in words for the workload's problem document (no certificate contents).
enum TLSFailure {
    static func describe(_ error: (any Error)?) -> String {
        let text = error.map { String(describing: $0) } ?? ""
        if text.contains("Hostname") || text.contains("hostname") {
            return "the upstream's certificate is not for the name the edge verifies (serverName or host)"
        }
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "the upstream's certificate does not chain to a trusted CA (ca), or has expired"
        }
        if text.contains("ALERT") {
            return "the upstream refused the handshake (does it require a client certificate?)"
        }
        if error is ChannelError { return "the handshake did not complete" }
        return "the handshake failed"
    }
}
