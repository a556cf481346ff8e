import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle
import SigilEvents
import SigilKafka
import SigilProjection

/// What makes one Sigil executable what it is; `SigilServiceRuntime` builds the rest.
public struct SigilServiceDefinition: Sendable {
    /// Executable name, e.g. `sigil-attest`.
    public var executable: String
    /// Short name in event sources and logs, e.g. `attest`.
    public var component: String
    public var summary: String
    public var defaultPort: Int
    /// The schema it owns and its migrations; `nil` for a service with nothing durable (the edge).
    public var schema: SchemaName?
    public var migrations: [Migration]
    /// Topics it reads or writes; created at start when absent.
    public var topics: [SigilTopic]
    /// Its own admin API operations and schemas, for its OpenAPI document (resource kinds add theirs).
    public var openAPIPaths: APIPaths = [:]
    public var openAPISchemas: [String: JSONValue] = [:]
    /// The projections it keeps, given the started runtime's parts.
    public var projections: @Sendable (ServiceContext) -> [ProjectionSubscription] = { _ in [] }
    /// The resource kinds it owns: served under `/v1`, projected into its schema, indexed in memory.
    public var resources: [ResourceDefinition] = []
    /// Further admin routes under `/v1` (authenticated).
    public var routes: @Sendable (RouterGroup<AdminRequestContext>, ServiceContext) -> Void = { _, _ in }
    /// Routes anyone may read, outside `/v1` (a tenant's JWKS): nothing secret, nothing that changes state.
    public var publicRoutes: @Sendable (Router<AdminRequestContext>, ServiceContext) -> Void = { _, _ in }
    /// Long-running workers (access-flow consumers, ...), started after start-up completed.
    public var workers: @Sendable (ServiceContext) throws -> [any Service] = { _ in [] }

    public init(
        executable: String,
        component: String,
        summary: String,
        defaultPort: Int,
        schema: SchemaName?,
        migrations: [Migration] = [],
        topics: [SigilTopic]
    ) {
        self.executable = executable
        self.component = component
        self.summary = summary
        self.defaultPort = defaultPort
        self.schema = schema
        self.migrations = migrations
        self.topics = topics
    }
}

extension SigilServiceDefinition {
    /// The service's OpenAPI document: shared routes, its resource kinds, its own routes.
    public var openAPIDocument: String {
        var paths = openAPIPaths
        var schemas = openAPISchemas
        for resource in resources {
            paths.merge(resource.apiPaths) { own, _ in own }
            schemas.merge(resource.apiSchemas) { own, _ in own }
        }
        if !resources.isEmpty {
            paths.merge(ResourceSetController.apiPaths(resources)) { own, _ in own }
            schemas.merge(ResourceSetController.apiSchemas(resources)) { own, _ in own }
        }
        return OpenAPIDocument.render(
            title: executable, version: "0.2.0", description: summary, paths: paths, schemas: schemas)
    }
}

/// A projection and the topics it reads.
public struct ProjectionSubscription: Sendable {
    /// One projection per lane (`ProjectionLane`): each reads its share of the partitions, in transactions of its
    /// own. One projection: one runner reading everything.
    public var lanes: [any Projection]
    public var topics: [SigilTopic]
    /// Records applied in one transaction at most (see `ProjectionRunner.Configuration.maximumBatchSize`).
    public var maximumBatchSize: Int

    public init(projection: any Projection, topics: [SigilTopic], maximumBatchSize: Int = 500) {
        self.init(lanes: [projection], topics: topics, maximumBatchSize: maximumBatchSize)
    }

    public init(lanes: [any Projection], topics: [SigilTopic], maximumBatchSize: Int = 500) {
        precondition(!lanes.isEmpty, "a projection runs in one lane at least")
        self.lanes = lanes
        self.topics = topics
        self.maximumBatchSize = maximumBatchSize
    }
}

/// The parts of a running service that its own code builds on.
public struct ServiceContext: Sendable {
    public let configuration: ServiceConfiguration
    public let source: EventSource
    public let producer: KafkaProducer
    public let admin: KafkaAdmin
    public let postgres: PostgresClient?
    public let tokens: AdminTokenStore
    /// What `/readyz` reports; workers add conditions to it.
    public let readiness: Readiness
    /// The configuration this service knows: every resource's catalog entry, and typed indexes of its own kinds.
    public let resources: ResourceStore
    /// Its signing key and the trust bundle. Always set when the service runs; nil only in tests that build a
    /// context by hand (then nothing it publishes is signed, and its workers act on nothing).
    public var authentication: EventAuthentication? = nil
    public let logger: Logger

    public var topics: SigilTopics { configuration.topics }
}
