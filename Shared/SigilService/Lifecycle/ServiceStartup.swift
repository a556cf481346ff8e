import Logging
import PostgresNIO
import ServiceLifecycle
import SigilKafka
import SigilProjection

/// The start-up work that must finish before a service is ready, retried until it does (the broker or database may
/// come up after the service): apply the schema's migrations, make sure the service's topics exist. Then it opens
/// the gate the projection runners wait on, and waits for shutdown.
struct ServiceStartup: Service {
    let migrations: MigrationRunner?
    let postgres: PostgresClient?
    let admin: KafkaAdmin
    let topics: [KafkaTopicSpecification]
    let readiness: Readiness
    let gate: StartupGate
    let logger: Logger
    var retryDelay: Duration = .seconds(1)

    func run() async throws {
        var attempt = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            attempt += 1
            do {
                if let migrations, let postgres {
                    let applied = try await migrations.apply(on: postgres, logger: logger)
                    logger.info("schema up to date", metadata: ["schema": "\(migrations.schema)", "applied": "\(applied)"])
                }
                let created = try await admin.ensureTopics(topics)
                logger.info("topics ready", metadata: ["created": "\(created)"])
                readiness.markStartupComplete()
                await gate.open()
                break
            } catch {
                logger.warning(
                    "start-up not complete; retrying",
                    metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: retryDelay) }
            }
        }
        try? await gracefulShutdown()
    }
}

/// Opened once start-up finished; projection runners wait on it so they never read before migrations ran.
public actor StartupGate {
    private var isOpen = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init() {}

    public func open() {
        isOpen = true
        waiters.forEach { $0.resume() }
        waiters.removeAll()
    }

    public func wait() async {
        if isOpen { return }
        await withCheckedContinuation { waiters.append($0) }
    }
}

/// Runs a service after the gate opens.
struct GatedService: Service {
    let gate: StartupGate
    let service: any Service

    func run() async throws {
        try await cancelWhenGracefulShutdown { await gate.wait() }
        guard !Task.isShuttingDownGracefully else { return }
        try await service.run()
    }
}
