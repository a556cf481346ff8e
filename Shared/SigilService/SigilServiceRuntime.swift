import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilProjection

/// Builds and runs one Sigil executable: configuration, logging, metrics, Kafka clients, the Postgres pool,
/// start-up (migrations, topics), projections and the HTTP server, in one service group that shuts down in
/// reverse order on SIGTERM or SIGINT (stop accepting, stop projections, flush the producer, close the pool).
public enum SigilServiceRuntime {
    /// The `@main` entry of every service executable.
    public static func main(_ definition: SigilServiceDefinition) async {
        let configuration: ServiceConfiguration
        let authentication: EventAuthentication
        do {
            configuration = try await ServiceConfiguration.load(service: definition)
            guard let role = ServiceRole(rawValue: definition.component) else {
                throw ConfigurationError(key: "component", expected: "a service role")
            }
            authentication = try EventAuthentication.load(configuration, role: role)
        } catch {
            FileHandle.standardError.write(Data("\(definition.executable): \(error)\n".utf8))
            exit(78)  // EX_CONFIG
        }
        LoggingBootstrap.bootstrap(
            format: configuration.logFormat, level: Logger.Level(rawValue: configuration.logLevel) ?? .info)
        MetricsBootstrap.bootstrap()
        var logger = Logger(label: definition.executable)
        logger[metadataKey: "instance"] = "\(configuration.instanceID)"
        do {
            let application = try buildApplication(
                definition, configuration: configuration, authentication: authentication, logger: logger)
            logger.info(
                "starting", metadata: ["port": "\(configuration.httpPort)", "kafka": "\(configuration.kafkaBrokers)"])
            try await application.runService()
            logger.info("stopped")
        } catch {
            logger.critical("service failed", metadata: ["error": "\(String(reflecting: error))"])
            exit(1)
        }
    }

    public static func buildApplication(
        _ definition: SigilServiceDefinition,
        configuration: ServiceConfiguration,
        authentication: EventAuthentication,
        logger: Logger
    ) throws -> some ApplicationProtocol {
        let source = EventSource(service: definition.component, instance: configuration.instanceID)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(
                client: configuration.kafkaClient("\(definition.executable)-producer")),
            logger: logger
        )
        let admin = try KafkaAdmin(
            configuration: configuration.kafkaClient("\(definition.executable)-admin"), logger: logger)

        var postgres: PostgresClient?
        if definition.schema != nil {
            guard let url = configuration.postgresURL else {
                throw ConfigurationError(
                    key: "SIGIL_POSTGRES_URL", expected: "set: \(definition.executable) keeps its state in PostgreSQL")
            }
            postgres = PostgresClient(configuration: try PostgresURL.configuration(url), backgroundLogger: logger)
        }

        let tokens = AdminTokenStore()
        if let token = configuration.adminToken {
            tokens.add(
                token: token,
                principal: .init(tenant: configuration.adminTenant, role: .admin, tokenName: "bootstrap-admin"))
        }
        if let token = configuration.auditorToken {
            tokens.add(
                token: token,
                principal: .init(tenant: configuration.adminTenant, role: .auditor, tokenName: "bootstrap-auditor"))
        }

        // Shorter than the readiness probe's own timeout, so a down broker never queues probes behind each other.
        var checks = [Readiness.Check(name: "kafka") { _ = try await admin.metadata(timeoutMilliseconds: 1_500) }]
        if let postgres {
            checks.append(Readiness.Check(name: "postgres") { try await postgres.query("SELECT 1", logger: logger) })
        }
        let readiness = Readiness(checks: checks)
        let context = ServiceContext(
            configuration: configuration,
            source: source,
            producer: producer,
            admin: admin,
            postgres: postgres,
            tokens: tokens,
            readiness: readiness,
            resources: ResourceStore(),
            authentication: authentication,
            logger: logger
        )
        let resourceDefinitions = definition.resources

        var services: [any Service] = []
        if let postgres { services.append(postgres) }
        services.append(producer)
        services.append(
            ServiceStartup(
                migrations: definition.schema.map { MigrationRunner(schema: $0, migrations: definition.migrations) },
                postgres: postgres,
                admin: admin,
                producer: producer,
                topics: definition.topics.map(configuration.topics.specification),
                readiness: readiness,
                logger: logger
            )
        )
        if let postgres, let schema = definition.schema {
            var subscriptions = definition.projections(context)
            if !resourceDefinitions.isEmpty {
                let projection = ResourceProjection(
                    schema: schema,
                    definitions: resourceDefinitions,
                    store: context.resources,
                    postgres: postgres
                )
                subscriptions.append(ProjectionSubscription(projection: projection, topics: [.config]))
            }
            for subscription in subscriptions {
                for (index, projection) in subscription.lanes.enumerated() {
                    let lane =
                        subscription.lanes.count > 1 ? ProjectionLane(index: index, of: subscription.lanes.count) : nil
                    var runnerConfiguration = ProjectionRunner.Configuration(
                        topics: subscription.topics.map(configuration.topics.name),
                        kafka: configuration.kafkaClient(
                            "\(definition.executable)-\(projection.name)" + (lane.map { "-lane-\($0.index + 1)" } ?? "")
                        ),
                        deadLetterTopic: configuration.topics.name(.deadletter)
                    )
                    runnerConfiguration.fetchWaitMaxMilliseconds = configuration.kafkaFetchWaitMaxMilliseconds
                    runnerConfiguration.maximumBatchSize = subscription.maximumBatchSize
                    runnerConfiguration.lane = lane
                    runnerConfiguration.authenticate = {
                        (event: CloudEvent, payload: any EventPayload) throws(ProjectionRejection) in
                        try authentication.authenticateForProjection(event, payload)
                    }
                    runnerConfiguration.sign = context.sign
                    let runner = ProjectionRunner(
                        projection: projection,
                        schema: schema,
                        configuration: runnerConfiguration,
                        postgres: postgres,
                        producer: producer,
                        admin: admin,
                        source: source,
                        logger: logger
                    )
                    services.append(GatedService(readiness: readiness, service: runner))
                }
            }
        }

        for worker in try definition.workers(context) {
            services.append(GatedService(readiness: readiness, service: worker))
        }

        let router = buildRouter(
            tokens: tokens,
            readiness: readiness,
            openAPIDocument: definition.openAPIDocument,
            publicRoutes: { definition.publicRoutes($0, context) }
        ) { v1 in
            let log = KafkaConfigurationLog(producer: producer, topic: configuration.topics.name(.config))
            ResourceController.add(resourceDefinitions, to: v1, store: context.resources, context: context, log: log)
            definition.routes(v1, context)
        }
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.httpHost, port: configuration.httpPort),
                serverName: definition.executable),
            services: services,
            logger: logger
        )
    }

    /// The routes every service shares; services add their admin API to the returned router's `/v1` group.
    public static func buildRouter(
        tokens: AdminTokenStore,
        readiness: Readiness,
        openAPIDocument: String,
        publicRoutes: (Router<AdminRequestContext>) -> Void = { _ in },
        adminRoutes: (RouterGroup<AdminRequestContext>) -> Void = { _ in }
    ) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        OperationsController(readiness: readiness, metrics: MetricsBootstrap.registry, openAPIDocument: openAPIDocument)
            .add(to: router)
        publicRoutes(router)
        let v1 = router.group("/v1").add(middleware: AdminAuthMiddleware(tokens: tokens))
        WhoAmIController().add(to: v1)
        adminRoutes(v1)
        return router
    }
}
