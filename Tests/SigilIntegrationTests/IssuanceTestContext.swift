import Logging
import PostgresNIO
import SigilEvents
import SigilKafka

@testable import CredentialIssuance
@testable import SigilService

/// sigil-issue's service context for an integration test (see `TestServiceContext`).
enum IssuanceTestContext {
    static func make(
        postgres: PostgresClient, topics: [SigilTopic], logger: Logger
    ) async throws -> (cluster: KafkaMockCluster, context: ServiceContext) {
        try await TestServiceContext.make(
            .credentialIssuance, source: EventSource(service: "issue", instance: "test"), postgres: postgres,
            topics: topics, logger: logger)
    }
}
