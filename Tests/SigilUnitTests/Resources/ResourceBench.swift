import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import SigilCrypto
import SigilEvents
import SigilKafka
import Testing

@testable import SigilService

/// A service's admin API over an in-memory configuration log: tokens for two tenants and every role.
struct ResourceBench {
    static let adminToken = "adm_0123456789abcdefghijklmnop"
    static let auditorToken = "aud_0123456789abcdefghijklmnop"
    static let edgeToken = "edg_0123456789abcdefghijklmnop"
    /// An admin of another tenant.
    static let otherAdminToken = "oth_0123456789abcdefghijklmnop"

    let store = ResourceStore()
    let log: InMemoryConfigurationLog
    let context: ServiceContext
    let definitions: [ResourceDefinition]

    /// `signer`: the service's signing key (without one, what it writes is unsigned).
    init(
        _ service: SigilServiceDefinition, environment: [String: String] = [:], signer: EventSigner? = nil
    ) async throws {
        definitions = service.resources
        log = InMemoryConfigurationLog(store: store, definitions: definitions)
        var context = try await Self.context(service, store: store, environment: environment)
        if let signer {
            context.authentication = EventAuthentication(
                signer: signer, verifier: try EventVerifier(TrustBundle(keys: [signer.trustedKey])))
        }
        self.context = context
    }

    /// A service context whose Kafka clients point nowhere (nothing here may reach a broker).
    static func context(
        _ service: SigilServiceDefinition, store: ResourceStore = ResourceStore(), environment: [String: String] = [:]
    ) async throws -> ServiceContext {
        let configuration = try await ServiceConfiguration.load(service: service, environment: environment)
        let client = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "test")
        var logger = Logger(label: "test")
        logger.logLevel = .critical  // the unreachable broker is expected
        return ServiceContext(
            configuration: configuration, source: EventSource(service: service.component, instance: "test"),
            producer: try KafkaProducer(configuration: .init(client: client), logger: logger),
            admin: try KafkaAdmin(configuration: client, logger: logger), postgres: nil, tokens: AdminTokenStore(),
            readiness: Readiness(checks: []), resources: store, logger: logger)
    }

    func application() -> some ApplicationProtocol {
        let tokens = AdminTokenStore()
        tokens.add(token: Self.adminToken, principal: .init(tenant: "acme", role: .admin, tokenName: "ops"))
        tokens.add(token: Self.auditorToken, principal: .init(tenant: "acme", role: .auditor, tokenName: "siem"))
        tokens.add(token: Self.edgeToken, principal: .init(tenant: "acme", role: .edge, tokenName: "edge-1"))
        tokens.add(token: Self.otherAdminToken, principal: .init(tenant: "globex", role: .admin, tokenName: "globex"))
        let router = SigilServiceRuntime.buildRouter(
            tokens: tokens, readiness: Readiness(checks: []), openAPIDocument: "",
            adminRoutes: { v1 in ResourceController.add(definitions, to: v1, store: store, context: context, log: log) }
        )
        return Application(router: router)
    }

    struct Answer {
        let status: HTTPResponse.Status
        let body: JSONValue
        let headers: HTTPFields

        var detail: String { body["detail"]?.stringValue ?? "" }
        var field: String? { body["field"]?.stringValue }
        var type: String? { body["type"]?.stringValue }
        var version: String? { body["metadata"]?["resourceVersion"]?.stringValue }
        var change: String? { headers[HTTPField.Name("Sigil-Change")!] }
    }

    static func send(
        _ client: some TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, body: JSONValue? = nil,
        token: String? = adminToken, headers extra: HTTPFields = [:]
    ) async throws -> Answer {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if body != nil { headers[.contentType] = "application/json" }
        let bytes = try body.map { ByteBuffer(data: try EventJSON.encoder.encode($0)) }
        return try await client.execute(uri: path, method: method, headers: headers, body: bytes) { response in
            Answer(
                status: response.status,
                body: (try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: response.body))) ?? .null,
                headers: response.headers)
        }
    }

    /// A resource document.
    static func document(_ kind: ResourceKind, _ name: String, _ spec: JSONValue, labels: JSONValue = [:]) -> JSONValue
    {
        [
            "apiVersion": "sigil.dev/v1", "kind": .string(kind.rawValue),
            "metadata": ["name": .string(name), "labels": labels], "spec": spec,
        ]
    }
}

extension ResourceBench {
    /// A typed resource as admission makes it (schema, defaults, the kind's own checks), without the API.
    static func admit<Spec: ResourceSpec>(
        _ type: Spec.Type, _ name: String, _ spec: JSONValue, tenant: String = "acme", context: ServiceContext
    ) async throws -> Resource<Spec> {
        let definition = ResourceDefinition(Spec.self)
        let checked = try definition.schema.admit(spec, at: "spec")
        let admitted = try await definition.admit(
            checked, AdmissionTarget(tenant: tenant, name: name, store: context.resources, context: context))
        let now = Date()
        return Resource(
            metadata: ResourceMetadata(
                name: name, tenant: tenant, labels: [:], uid: UUIDv7.generate(), resourceVersion: UUIDv7.generate(),
                generation: 1, createdAt: now, updatedAt: now, createdBy: "test"),
            spec: try admitted.spec.decode(Spec.self))
    }
}
