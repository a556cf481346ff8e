import Logging
import PostgresNIO
import ServiceLifecycle
import SigilKafka
import SigilProjection

/// The start-up work that must finish before a service is ready, retried until it does (the broker or database may
/// come up after the service): apply the schema's migrations, make sure the service's topics exist. Then it opens
/// the way for the projection runners, and waits for shutdown.
struct ServiceStartup: Service {
    let migrations: MigrationRunner?
    let postgres: PostgresClient?
    let admin: KafkaAdmin
    let producer: KafkaProducer
    let topics: [KafkaTopicSpecification]
    let readiness: Readiness
    let logger: Logger
    var retryDelay: Duration = .seconds(1)

    func run() async throws {
        var attempt = 0
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            attempt += 1
            do {
                if let migrations, let postgres {
                    let applied = try await migrations.apply(on: postgres, logger: logger)
                    logger.info(
                        "schema up to date", metadata: ["schema": "\(migrations.schema)", "applied": "\(applied)"])
                }
                let created = try await admin.ensureTopics(topics)
                let findings = try await TopicSafety.checkReplication(topics, admin: admin)
                guard findings.isEmpty else { throw UnsafeTopicSettings(findings: findings) }
                producer.prepare(topics: topics.map(\.name))
                logger.info("topics ready", metadata: ["created": "\(created)"])
                readiness.markStartupComplete()
                break
            } catch let refusal as UnsafeTopicSettings {
                // Not the broker being slow: the cluster must be fixed, and running would lose data meanwhile.
                throw refuse(refusal.findings)
            } catch {
                logger.warning(
                    "start-up not complete; retrying",
                    metadata: ["attempt": "\(attempt)", "error": "\(String(reflecting: error))"]
                )
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: retryDelay) }
            }
        }
        // Ready; now the settings (see TopicSafety.checkSettings): a service on unsafe topics stops.
        if !Task.isShuttingDownGracefully,
            let findings = await TopicSafety.checkSettings(topics, admin: admin, logger: logger), !findings.isEmpty
        {
            throw refuse(findings)
        }
        try? await gracefulShutdown()
    }

    private func refuse(_ findings: [TopicSafety.Finding]) -> UnsafeTopicSettings {
        for finding in findings {
            logger.critical(
                "unsafe topic settings; stopping",
                metadata: ["kafka.topic": "\(finding.topic)", "problem": "\(finding.problem)", "fix": "\(finding.fix)"])
        }
        return UnsafeTopicSettings(findings: findings)
    }
}

/// Runs a service (a projection runner) only once start-up finished, so it never reads before migrations ran.
struct GatedService: Service {
    let readiness: Readiness
    let service: any Service

    func run() async throws {
        while !readiness.isStartupComplete {
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
        }
        try await service.run()
    }
}
