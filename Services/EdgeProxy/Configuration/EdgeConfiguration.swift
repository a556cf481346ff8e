import Foundation
import SigilEvents
import SigilService

/// The edge's own settings (besides the shared ones). Every limit has a safe default; the README's table lists them.
struct EdgeConfiguration: Sendable {
    /// What the edge does with a request for a host that is not a server workload.
    enum UnmanagedPolicy: String, Sendable {
        /// Forward it untouched (plain HTTP) or tunnel it (`CONNECT`), as Aembit's edge does.
        case passthrough
        /// Refuse it with a 403 problem.
        case deny
    }

    /// `SIGIL_EDGE_ID`: this edge's name (default: the instance id).
    var edgeID: String
    /// `SIGIL_TENANT`: the tenant the workload beside this edge belongs to.
    var tenant: String
    /// `SIGIL_EDGE_TOKEN_FILE`: the workload's token files (service-account, CI, OIDC), comma-separated, each re-read
    /// when it changes; every one is presented in each access request. Unset: the Kubernetes service-account token,
    /// unless other evidence is configured.
    var tokenFiles: [String]
    /// `SIGIL_EDGE_CERTIFICATE_FILE`, `SIGIL_EDGE_KEY_FILE`: a PEM certificate chain (leaf first, e.g. an X.509-SVID)
    /// and its key, for `x509` trust providers; each request carries a proof by the key.
    var certificateFiles: (chain: String, key: String)?
    /// `SIGIL_EDGE_JOIN_TOKEN_FILE`: a one-time join token (`sigil token create`).
    var joinTokenFile: String?
    /// `SIGIL_EDGE_AWS_IDENTITY_DOCUMENT_FILE`, `SIGIL_EDGE_AWS_IDENTITY_SIGNATURE_FILE`: the EC2 instance identity
    /// document and its signature, as the instance metadata service serves them.
    var awsIdentityFiles: (document: String, signature: String)?

    /// Every source of evidence, for `WorkloadEvidence`.
    var evidenceSources: WorkloadEvidence.Sources {
        WorkloadEvidence.Sources(
            tokenFiles: tokenFiles, certificate: certificateFiles, joinTokenFile: joinTokenFile,
            awsInstanceIdentity: awsIdentityFiles)
    }
    /// `SIGIL_EDGE_PROXY_HOST`, `SIGIL_EDGE_PROXY_PORT`: the forward proxy workloads send requests through.
    var proxyHost: String
    var proxyPort: Int
    /// `SIGIL_EDGE_DATABASE_HOST`: where the listeners of `postgres` server workloads bind (default 127.0.0.1; each
    /// at its server workload's `listenPort`).
    var databaseHost: String
    /// `SIGIL_EDGE_DATABASE_PORT_OFFSET`: added to every `listenPort` (default 0), so several edges on one host (a
    /// development machine) do not contend for the same ports; `sigil dev edge` sets it from the proxy port.
    var databasePortOffset: Int
    /// `SIGIL_EDGE_DATABASE_TLS_CERTIFICATE_FILE`, `SIGIL_EDGE_DATABASE_TLS_KEY_FILE`: the edge's certificate chain and
    /// key for the workload's side of its PostgreSQL listeners; set, they offer TLS and require it
    /// (`PostgresListenerTLS`). Unset: plain, for loopback.
    var databaseTLSFiles: (certificate: String, key: String)?
    /// `SIGIL_EDGE_TIMEOUT_MS`: how long a request that needs a new credential may wait for the control plane,
    /// counted from the request's arrival, before the edge answers 503.
    var timeout: Duration
    /// `SIGIL_EDGE_REFUSAL_HOLD_MS`: after the control plane refuses a credential, how long the edge gives the same
    /// refusal to the same request without asking again (default 1 s; 0: ask every time). A configuration change ends
    /// every hold at once.
    var refusalHold: Duration
    /// `SIGIL_EDGE_REPLY_PARTITION`: the partition of `access.replies` this edge reads (default: from its id).
    var replyPartition: Int32?
    /// `SIGIL_EDGE_UNMANAGED`: `passthrough` (default) or `deny`.
    var unmanaged: UnmanagedPolicy
    /// `SIGIL_EDGE_THREADS`: event-loop threads of the proxy (default: the machine's cores).
    var threads: Int
    /// `SIGIL_EDGE_UPSTREAM_MAX_CONNECTIONS`: open connections per upstream and proxy thread (default 64).
    var upstreamMaxConnections: Int
    /// `SIGIL_EDGE_UPSTREAM_IDLE_TIMEOUT_MS`: an idle pooled upstream connection is closed after this (default 30 s).
    var upstreamIdleTimeout: Duration
    /// `SIGIL_EDGE_UPSTREAM_CONNECT_TIMEOUT_MS`: connecting to an upstream (default 5 s), then 502.
    var upstreamConnectTimeout: Duration
    /// `SIGIL_EDGE_UPSTREAM_RESPONSE_TIMEOUT_MS`: from the request's last byte sent to the response head (default
    /// 30 s), then 504.
    var upstreamResponseTimeout: Duration
    /// `SIGIL_EDGE_CLIENT_IDLE_TIMEOUT_MS`: a workload's keep-alive connection idle this long is closed, and a request
    /// body that stops arriving this long is a 408 (default 60 s).
    var clientIdleTimeout: Duration
    /// `SIGIL_EDGE_MAX_HEADER_BYTES`: the largest request header block accepted (default 64 KiB), then 431.
    var maxHeaderBytes: Int
    /// `SIGIL_EDGE_MAX_SIGNED_BODY_BYTES`: the largest request body read whole to sign it with SigV4 (default 10 MiB),
    /// then 413.
    var maxSignedBodyBytes: Int
    /// `SIGIL_EDGE_REPORT_INTERVAL_MS`: how often credential use is reported on `edge.activity` (default 10 s).
    var reportInterval: Duration
    /// `SIGIL_EDGE_ROLE_TOKEN`: the bearer token (role `edge`) that reads this edge's status; never an admin token.
    var roleToken: String?

    init(_ configuration: ServiceConfiguration) throws {
        let source = configuration.source
        if configuration.adminToken != nil || configuration.auditorToken != nil {
            throw ConfigurationError(
                key: configuration.adminToken != nil ? "SIGIL_ADMIN_TOKEN" : "SIGIL_AUDITOR_TOKEN",
                expected:
                    "unset: an edge never holds the tenant's admin or auditor token; give it SIGIL_EDGE_ROLE_TOKEN (`sigil edge token`)"
            )
        }
        edgeID = source.string("SIGIL_EDGE_ID", default: configuration.instanceID)
        tenant = source.string("SIGIL_TENANT", default: configuration.adminTenant)
        certificateFiles = try Self.pair(source, "SIGIL_EDGE_CERTIFICATE_FILE", "SIGIL_EDGE_KEY_FILE")
        joinTokenFile = try Self.path(source, "SIGIL_EDGE_JOIN_TOKEN_FILE")
        awsIdentityFiles = try Self.pair(
            source, "SIGIL_EDGE_AWS_IDENTITY_DOCUMENT_FILE", "SIGIL_EDGE_AWS_IDENTITY_SIGNATURE_FILE")
        let otherEvidence = certificateFiles != nil || joinTokenFile != nil || awsIdentityFiles != nil
        tokenFiles = source.string(
            "SIGIL_EDGE_TOKEN_FILE",
            default: otherEvidence ? "" : "/var/run/secrets/kubernetes.io/serviceaccount/token"
        ).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard tokenFiles.count <= WorkloadEvidenceBundle.maximumTokens else {
            throw ConfigurationError(
                key: "SIGIL_EDGE_TOKEN_FILE", expected: "at most \(WorkloadEvidenceBundle.maximumTokens) files")
        }
        if let relative = tokenFiles.first(where: { !$0.hasPrefix("/") }) {
            throw ConfigurationError(key: "SIGIL_EDGE_TOKEN_FILE", expected: "absolute paths (\(relative) is not)")
        }
        guard !tokenFiles.isEmpty || otherEvidence else {
            throw ConfigurationError(
                key: "SIGIL_EDGE_TOKEN_FILE",
                expected: "a token file, or other evidence (SIGIL_EDGE_CERTIFICATE_FILE, SIGIL_EDGE_JOIN_TOKEN_FILE, "
                    + "SIGIL_EDGE_AWS_IDENTITY_DOCUMENT_FILE)")
        }
        proxyHost = source.string("SIGIL_EDGE_PROXY_HOST", default: "127.0.0.1")
        proxyPort = try source.int("SIGIL_EDGE_PROXY_PORT", default: 7480, in: 0...65_535)
        databaseHost = source.string("SIGIL_EDGE_DATABASE_HOST", default: "127.0.0.1")
        databasePortOffset = try source.int("SIGIL_EDGE_DATABASE_PORT_OFFSET", default: 0, in: 0...30_000)
        databaseTLSFiles = try Self.pair(
            source, "SIGIL_EDGE_DATABASE_TLS_CERTIFICATE_FILE", "SIGIL_EDGE_DATABASE_TLS_KEY_FILE")
        timeout = .milliseconds(try source.int("SIGIL_EDGE_TIMEOUT_MS", default: 2_000, in: 100...60_000))
        refusalHold = .milliseconds(try source.int("SIGIL_EDGE_REFUSAL_HOLD_MS", default: 1_000, in: 0...60_000))
        replyPartition = try source.string("SIGIL_EDGE_REPLY_PARTITION").map { _ in
            Int32(try source.int("SIGIL_EDGE_REPLY_PARTITION", default: 0, in: 0...100_000))
        }
        unmanaged = UnmanagedPolicy(
            rawValue: try source.oneOf("SIGIL_EDGE_UNMANAGED", ["passthrough", "deny"], default: "passthrough"))!
        threads = try source.int(
            "SIGIL_EDGE_THREADS", default: ProcessInfo.processInfo.activeProcessorCount, in: 1...256)
        upstreamMaxConnections = try source.int("SIGIL_EDGE_UPSTREAM_MAX_CONNECTIONS", default: 64, in: 1...10_000)
        upstreamIdleTimeout = .milliseconds(
            try source.int("SIGIL_EDGE_UPSTREAM_IDLE_TIMEOUT_MS", default: 30_000, in: 100...3_600_000))
        upstreamConnectTimeout = .milliseconds(
            try source.int("SIGIL_EDGE_UPSTREAM_CONNECT_TIMEOUT_MS", default: 5_000, in: 100...120_000))
        upstreamResponseTimeout = .milliseconds(
            try source.int("SIGIL_EDGE_UPSTREAM_RESPONSE_TIMEOUT_MS", default: 30_000, in: 100...3_600_000))
        clientIdleTimeout = .milliseconds(
            try source.int("SIGIL_EDGE_CLIENT_IDLE_TIMEOUT_MS", default: 60_000, in: 100...3_600_000))
        maxHeaderBytes = try source.int("SIGIL_EDGE_MAX_HEADER_BYTES", default: 65_536, in: 4_096...1_048_576)
        maxSignedBodyBytes = try source.int(
            "SIGIL_EDGE_MAX_SIGNED_BODY_BYTES", default: 10_485_760, in: 0...1_073_741_824)
        reportInterval = .milliseconds(
            try source.int("SIGIL_EDGE_REPORT_INTERVAL_MS", default: 10_000, in: 100...3_600_000))
        roleToken = source.string("SIGIL_EDGE_ROLE_TOKEN")
        if let roleToken, roleToken.utf8.count < 24 {
            throw ConfigurationError(key: "SIGIL_EDGE_ROLE_TOKEN", expected: "at least 24 characters")
        }
    }

    /// Defaults everywhere but the id; for tests, which then change what they exercise.
    init(testEdgeID: String) {
        edgeID = testEdgeID
        tenant = "default"
        tokenFiles = ["/dev/null"]
        certificateFiles = nil
        joinTokenFile = nil
        awsIdentityFiles = nil
        proxyHost = "127.0.0.1"
        proxyPort = 0
        databaseHost = "127.0.0.1"
        databasePortOffset = 0
        databaseTLSFiles = nil
        timeout = .seconds(2)
        refusalHold = .zero
        replyPartition = nil
        unmanaged = .passthrough
        threads = 1
        upstreamMaxConnections = 64
        upstreamIdleTimeout = .seconds(30)
        upstreamConnectTimeout = .seconds(5)
        upstreamResponseTimeout = .seconds(30)
        clientIdleTimeout = .seconds(60)
        maxHeaderBytes = 65_536
        maxSignedBodyBytes = 10_485_760
        reportInterval = .seconds(10)
        roleToken = nil
    }

    /// An absolute path, or nil when unset.
    private static func path(_ source: ConfigurationSource, _ key: String) throws -> String? {
        guard let path = source.string(key), !path.isEmpty else { return nil }
        guard path.hasPrefix("/") else { throw ConfigurationError(key: key, expected: "an absolute path") }
        return path
    }

    /// Two files that go together (a certificate and its key): both or neither.
    private static func pair(
        _ source: ConfigurationSource, _ first: String, _ second: String
    ) throws -> (String, String)? {
        switch (try path(source, first), try path(source, second)) {
        case (nil, nil): return nil
        case (let one?, let other?): return (one, other)
        case (nil, _): throw ConfigurationError(key: first, expected: "set too, with \(second)")
        case (_, nil): throw ConfigurationError(key: second, expected: "set too, with \(first)")
        }
    }

    /// Whether the proxy listens only on the loopback interface.
    var listensOnLoopback: Bool { ["127.0.0.1", "::1", "localhost"].contains(proxyHost) }

    /// A stable partition for this edge id when none is configured.
    func replyPartition(of partitionCount: Int32) -> Int32 {
        if let replyPartition { return replyPartition }
        var hash: UInt32 = 2_166_136_261  // FNV-1a: stable across processes, unlike Hasher
        for byte in edgeID.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return Int32(hash % UInt32(max(1, partitionCount)))
    }
}
