import Logging
import Metrics
import SigilEvents

/// What every proxy connection shares: settings, the server workloads, the credentials, reporting.
struct ProxyEnvironment: Sendable {
    struct Counters: Sendable {
        let unmanaged = Counter(label: "sigil.edge.requests", dimensions: [("route", "unmanaged")])
        let refused = Counter(label: "sigil.edge.requests", dimensions: [("route", "refused")])
        let tunnels = Counter(label: "sigil.edge.tunnels")
        let bodyTimeouts = Counter(label: "sigil.edge.requests", dimensions: [("route", "body-timeout")])
    }

    let configuration: EdgeConfiguration
    let serverWorkloads: ServerWorkloadIndex
    let credentials: CredentialBroker
    let reporter: ActivityReporter
    let logger: Logger
    let counters = Counters()

    /// Whether `target` is this proxy's own listener (a loop, not a proxied request).
    func isProxyItself(_ target: AccessTarget) -> Bool {
        target.port == configuration.proxyPort
            && ["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", configuration.proxyHost].contains(target.host)
    }

    func reportEachRequest(
        workload: EdgeServerWorkload, requestID: String?, status: Int, bytes: Int, latencyNanoseconds: UInt64
    ) {
        reporter.publish(
            RequestProxied(
                edgeID: configuration.edgeID, requestID: requestID, target: workload.target, status: status,
                bytes: bytes, latencyMilliseconds: Double(latencyNanoseconds) / 1e6))
    }
}
