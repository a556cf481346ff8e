import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// A listener per `postgres` server workload, at `SIGIL_EDGE_DATABASE_HOST` and the server workload's `listenPort`
/// (plus `SIGIL_EDGE_DATABASE_PORT_OFFSET`),
/// kept in step with the configuration (opened within half a second of a definition, moved when the port changes,
/// closed when the server workload goes; a connection takes the definition current when it arrives). With the edge's
/// certificate configured they speak TLS to workloads (`PostgresListenerTLS`, its files read again every 5 s). Each second it
/// also looks up the credentials that open sessions use, so they are refreshed before they expire for as long as a
/// session lasts; when asking again is refused (access withdrawn: a policy or workload changed or went, posture fell
/// short), those sessions are ended, and the leases they logged in under are released (sigil-issue ends them).
final class PostgresListeners: Service, Sendable {
    private struct Listener: Sendable {
        let port: Int
        let channel: any Channel
        let workload: Snapshot<EdgeServerWorkload>
    }

    let environment: PostgresEnvironment
    private let serverWorkloads: ServerWorkloadIndex
    private let group: MultiThreadedEventLoopGroup
    private let listeners = Mutex<[String: Listener]>([:])
    /// When each in-use credential that was not held was last asked for (at most every 5 s: a refused one is not
    /// asked for every second while its sessions last).
    private let askedAt = Mutex<[CredentialKey: ContinuousClock.Instant]>([:])
    /// Leases released already (each once, while sessions under it last).
    private let released = Mutex<Set<String>>([])
    /// Ports that would not bind, and when that was last logged (once a minute, not every pass).
    private let failures = Mutex<[Int: ContinuousClock.Instant]>([:])

    init(environment: PostgresEnvironment, serverWorkloads: ServerWorkloadIndex, group: MultiThreadedEventLoopGroup) {
        self.environment = environment
        self.serverWorkloads = serverWorkloads
        self.group = group
    }

    func run() async throws {
        if !["127.0.0.1", "::1", "localhost"].contains(environment.configuration.databaseHost) {
            environment.logger.warning(
                "database listeners bind beyond loopback: anything that reaches them uses the workload's access",
                metadata: ["host": "\(environment.configuration.databaseHost)"])
        }
        var pass = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            await reconcile()
            if pass % 2 == 0 { keepCredentialsFresh() }
            if pass % 10 == 9 { environment.listenerTLS?.reloadIfChanged(logger: environment.logger) }
            pass += 1
            try? await Task.sleep(for: .milliseconds(500))
        }
        await close()
    }

    /// Closes every listener (sessions already relayed carry on).
    func close() async {
        let open = listeners.withLock { listeners in
            defer { listeners = [:] }
            return Array(listeners.values)
        }
        for listener in open { try? await listener.channel.close() }
    }

    /// The address each server workload's listener is bound to (tests).
    var addresses: [String: SocketAddress] {
        listeners.withLock { $0.compactMapValues(\.channel.localAddress) }
    }

    /// Opens, moves and closes listeners to match the configuration.
    func reconcile() async {
        let wanted = Dictionary(
            serverWorkloads.databases.compactMap { workload in
                workload.listenPort.map { _ in (workload.name, workload) }
            },
            uniquingKeysWith: { first, _ in first })
        let current = listeners.withLock { $0 }
        for (name, listener) in current where wanted[name]?.listenPort != listener.port {
            listeners.withLock { _ = $0.removeValue(forKey: name) }
            try? await listener.channel.close()
            environment.logger.info("database listener closed", metadata: ["server.workload": "\(name)"])
        }
        for (name, workload) in wanted {
            if let listener = listeners.withLock({ $0[name] }) {
                listener.workload.update { $0 = workload }
                continue
            }
            await open(workload)
        }
    }

    private func open(_ workload: EdgeServerWorkload) async {
        guard let listenPort = workload.listenPort else { return }
        let port = listenPort == 0 ? 0 : listenPort + environment.configuration.databasePortOffset
        let current = Snapshot(workload)
        let host = environment.configuration.databaseHost
        do {
            let channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
                .childChannelInitializer { [environment, current] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(
                            PostgresSession(workload: current.value, environment: environment, channel: channel))
                    }
                }
                .bind(host: host, port: port)
                .get()
            listeners.withLock {
                $0[workload.name] = Listener(port: listenPort, channel: channel, workload: current)
            }
            failures.withLock { _ = $0.removeValue(forKey: port) }
            environment.logger.info(
                "database listener open",
                metadata: [
                    "server.workload": "\(workload.name)", "address": "\(host):\(port)",
                    "database": "\(workload.target.host):\(workload.target.port)",
                ])
        } catch {
            let now = ContinuousClock.now
            let due = failures.withLock { failures in
                guard failures[port].map({ now - $0 >= .seconds(60) }) ?? true else { return false }
                failures[port] = now
                return true
            }
            if due {
                environment.logger.error(
                    "database listener cannot bind; retrying",
                    metadata: [
                        "server.workload": "\(workload.name)", "address": "\(host):\(port)",
                        "error": "\(error)",
                    ])
            }
        }
    }

    /// Credentials in use by open sessions: a lookup starts their refresh when due; one no longer held is asked for
    /// again (a lease in use is renewed, not left to end under the session).
    func keepCredentialsFresh() {
        let credentials = environment.credentials
        let now = ContinuousClock.now
        let inUse = environment.sessions.inUse
        askedAt.withLock { asked in asked = asked.filter { inUse[$0.key] != nil } }
        let leasesInUse = Set(inUse.values.flatMap(\.leases.keys))
        released.withLock { $0.formIntersection(leasesInUse) }
        for (_, inUse) in inUse {
            guard
                case .needed(let key, let evidence, let request) = credentials.lookup(
                    inUse.workload, request: inUse.request),
                askedAt.withLock({ asked in
                    guard asked[key].map({ now - $0 >= .seconds(5) }) ?? true else { return false }
                    asked[key] = now
                    return true
                })
            else { continue }
            let workload = inUse.workload
            let leases = Array(inUse.leases.keys)
            let deadline = ContinuousClock.now + environment.configuration.timeout
            Task { [environment] in
                let result = await credentials.obtain(
                    key, evidence: evidence, workload: workload, request: request, deadline: deadline)
                // Refused, not merely unanswered: the access these sessions use is withdrawn. They end here (a
                // `postgres-static` login has no lease to end them), and their leases are released.
                guard case .failure(let refusal) = result, refusal.kind == .refused else { return }
                let ended = environment.sessions.end(key)
                if ended > 0 {
                    environment.logger.notice(
                        "access withdrawn: open database sessions ended",
                        metadata: [
                            "server.workload": "\(workload.name)", "sessions": "\(ended)", "reason": "\(refusal.code)",
                        ])
                }
                for lease in leases where self.released.withLock({ $0.insert(lease).inserted }) {
                    environment.logger.notice(
                        "access withdrawn from open database sessions; releasing their lease",
                        metadata: [
                            "server.workload": "\(workload.name)", "lease": "\(lease)", "reason": "\(refusal.code)",
                        ])
                    environment.releaseLease(lease, refusal)
                }
            }
        }
    }
}
