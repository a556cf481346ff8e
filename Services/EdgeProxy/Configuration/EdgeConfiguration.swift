import Foundation
import SigilService

/// The edge's own settings (besides the shared ones).
struct EdgeConfiguration: Sendable {
    /// `SIGIL_EDGE_ID`: this edge's name (default: the instance id).
    let edgeID: String
    /// `SIGIL_TENANT`: the tenant the workload beside this edge belongs to.
    let tenant: String
    /// `SIGIL_EDGE_TOKEN_FILE`: the workload's service-account token, read for every new credential.
    let tokenFile: String
    /// `SIGIL_EDGE_PROXY_HOST`, `SIGIL_EDGE_PROXY_PORT`: the forward proxy workloads send requests through.
    let proxyHost: String
    let proxyPort: Int
    /// `SIGIL_EDGE_TIMEOUT_MS`: how long to wait for the control plane before answering 503.
    let timeout: Duration
    /// `SIGIL_EDGE_REPLY_PARTITION`: the partition of `access.replies` this edge reads (default: from its id).
    let replyPartition: Int32?

    init(_ configuration: ServiceConfiguration) throws {
        let source = configuration.source
        edgeID = source.string("SIGIL_EDGE_ID", default: configuration.instanceID)
        tenant = source.string("SIGIL_TENANT", default: configuration.adminTenant)
        tokenFile = source.string(
            "SIGIL_EDGE_TOKEN_FILE", default: "/var/run/secrets/kubernetes.io/serviceaccount/token")
        proxyHost = source.string("SIGIL_EDGE_PROXY_HOST", default: configuration.httpHost)
        proxyPort = try source.int("SIGIL_EDGE_PROXY_PORT", default: 7480, in: 0...65_535)
        timeout = .milliseconds(try source.int("SIGIL_EDGE_TIMEOUT_MS", default: 2_000, in: 100...60_000))
        replyPartition = try source.string("SIGIL_EDGE_REPLY_PARTITION").map { _ in
            Int32(try source.int("SIGIL_EDGE_REPLY_PARTITION", default: 0, in: 0...100_000))
        }
    }

    /// For tests: defaults everywhere but the id.
    init(testEdgeID: String) {
        edgeID = testEdgeID
        tenant = "default"
        tokenFile = "/dev/null"
        proxyHost = "127.0.0.1"
        proxyPort = 7480
        timeout = .seconds(2)
        replyPartition = nil
    }

    /// A stable partition for this edge id when none is configured.
    func replyPartition(of partitionCount: Int32) -> Int32 {
        if let replyPartition { return replyPartition }
        var hash: UInt32 = 2_166_136_261  // FNV-1a: stable across processes, unlike Hasher
        for byte in edgeID.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(hash % UInt32(max(1, partitionCount)))
    }
}
