import Logging
import NIOPosix
import SigilEvents
import SigilService

extension SigilServiceDefinition {
    /// `sigil-edge`: the sidecar beside a workload. Nothing durable: no schema, no migrations.
    static var edgeProxy: SigilServiceDefinition {
        var definition = SigilServiceDefinition(
            executable: "sigil-edge",
            component: "edge",
            summary:
                "Edge proxy: gathers workload evidence, obtains credentials and injects them into outgoing requests.",
            defaultPort: 7105,
            schema: nil,
            topics: [.config, .accessRequests, .accessReplies, .accessLeases, .edgeActivity, .posture]
        )
        let parts = ServicePart { context in try EdgeParts(context) }
        definition.workers = { context in
            let parts = try parts.get(context)
            return [
                parts.view, parts.posture, parts.replies, parts.evidence, parts.proxy, parts.databases, parts.reporter,
            ]
        }
        definition.routes = { group, context in
            guard let parts = try? parts.get(context) else { return }
            EdgeStatusController(parts: parts).add(to: group)
        }
        definition.openAPIPaths = EdgeStatusController.openAPIPaths
        definition.openAPISchemas = EdgeStatusController.openAPISchemas
        return definition
    }
}

/// The edge's long-lived parts, shared by its workers and its admin routes.
struct EdgeParts: Sendable {
    let edge: EdgeConfiguration
    let view: ControlPlaneView
    let posture: PostureWatcher
    let replies: ReplyListener
    let evidence: WorkloadEvidence
    let credentials: CredentialBroker
    let reporter: ActivityReporter
    let proxy: ProxyServer
    let databases: PostgresListeners

    init(_ context: ServiceContext) throws {
        edge = try EdgeConfiguration(context.configuration)
        if let token = edge.roleToken {
            context.tokens.add(
                token: token, principal: .init(tenant: edge.tenant, role: .edge, tokenName: "edge-\(edge.edgeID)"))
        }
        // The view is made before the broker whose cache it revokes from: the cache is made first and shared.
        let cache = CredentialCache()
        let logger = context.logger
        let revoke: @Sendable (AccessChange) -> Void = { change in
            let revoked = cache.revoke(change)
            if revoked > 0 {
                logger.info("credentials revoked", metadata: ["change": "\(change)", "count": "\(revoked)"])
            }
        }
        view = ControlPlaneView(context: context, tenant: edge.tenant, accessChanged: revoke)
        posture = PostureWatcher(
            context: context, tenant: edge.tenant, inputs: view.decisionInputs, accessChanged: revoke)
        replies = ReplyListener(context: context, edge: edge, accessChanged: revoke)
        evidence = WorkloadEvidence(edge.evidenceSources, logger: context.logger)
        credentials = CredentialBroker(
            evidence: evidence,
            requester: AccessClient(context: context, edge: edge, view: view, replies: replies),
            timeout: edge.timeout, logger: context.logger, cache: cache, inputs: view.decisionInputs,
            refusalHold: edge.refusalHold)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: edge.threads)
        let edgeID = edge.edgeID
        let tenant = edge.tenant
        // Reports are signed in batches: a busy edge sends hundreds a second.
        let reports = EventBatcher(context: context)
        reporter = ActivityReporter(
            edgeID: edge.edgeID, interval: edge.reportInterval, loops: Array(group.makeIterator()),
            flush: reports.flush
        ) { [context] event in
            do {
                try reports.enqueue(event, to: .edgeActivity, tenant: tenant, partitionKey: edgeID, subject: edgeID)
            } catch {
                context.logger.warning("activity not reported", metadata: ["error": "\(String(reflecting: error))"])
            }
        }
        proxy = ProxyServer(
            environment: ProxyEnvironment(
                configuration: edge, serverWorkloads: view.serverWorkloads, credentials: credentials,
                reporter: reporter, logger: context.logger),
            group: group)
        var databaseEnvironment = PostgresEnvironment(
            configuration: edge, credentials: credentials, sessions: PostgresSessions(), logger: context.logger)
        if let files = edge.databaseTLSFiles {
            databaseEnvironment.listenerTLS = try PostgresListenerTLS(
                certificateFile: files.certificate, keyFile: files.key)
        }
        databaseEnvironment.releaseLease = { [context] lease, refusal in
            do {
                try context.enqueue(
                    LeaseReleased(
                        leaseID: lease, edgeID: edgeID, reason: refusal.code, detail: String(refusal.detail.prefix(500))
                    ),
                    to: .accessLeases, tenant: tenant, partitionKey: lease, subject: lease)
            } catch {
                // The lease still ends at its expiry: it is no longer renewed.
                context.logger.warning(
                    "lease release not sent", metadata: ["lease": "\(lease)", "error": "\(String(reflecting: error))"])
            }
        }
        databases = PostgresListeners(
            environment: databaseEnvironment, serverWorkloads: view.serverWorkloads, group: group)
    }
}
