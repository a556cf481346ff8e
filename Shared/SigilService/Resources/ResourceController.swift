import Foundation
import Hummingbird
import SigilEvents
import SigilKafka

/// The admin API of one resource kind under `/v1/<path>`: PUT creates or replaces (idempotent), GET lists or reads,
/// DELETE removes. Changes are validated here and become events on the config topic; reads come from the projection.
struct ResourceController: Sendable {
    let definition: ResourceDefinition
    let cache: ResourceCache
    let producer: KafkaProducer
    let configTopic: String
    let source: EventSource

    static let maximumSpecBytes = 256 * 1024

    func add(to group: RouterGroup<AdminRequestContext>) {
        let path = RouterPath(stringLiteral: definition.path)
        group.get(path) { _, context in
            let principal = try context.requirePrincipal()
            return OperationsController.json(.ok, ["items": cache.all(definition.kind, tenant: principal.tenant)])
        }
        group.get(RouterPath(stringLiteral: "\(definition.path)/:name")) { _, context in
            let principal = try context.requirePrincipal()
            let name = try context.parameters.require("name")
            guard let resource = cache.get(definition.kind, tenant: principal.tenant, name: name) else {
                throw ProblemDetails.notFound("no \(definition.kind.rawValue) named \(name)")
            }
            return OperationsController.json(.ok, resource)
        }
        group.put(RouterPath(stringLiteral: "\(definition.path)/:name")) { request, context in
            let principal = try context.requirePrincipal([.admin])
            let name = try Self.validName(context.parameters.require("name"))
            let body = try await request.body.collect(upTo: Self.maximumSpecBytes)
            let submitted: JSONValue
            do {
                submitted = try JSONDecoder().decode(JSONValue.self, from: Data(buffer: body))
            } catch {
                throw ProblemDetails(
                    status: .badRequest, slug: "malformed-body", title: "Malformed body",
                    detail: "the body is not a JSON document")
            }
            guard case .object = submitted else {
                throw ProblemDetails.invalidField("spec", "the spec must be a JSON object")
            }
            let spec = try await definition.validate(submitted, principal.tenant, name)
            let event = try ResourceDefined(kind: definition.kind, name: name, spec: spec)
                .cloudEvent(
                    source: source, tenant: principal.tenant, partitionKey: principal.tenant,
                    subject: "\(definition.kind.rawValue)/\(name)")
            _ = try await producer.sendAndAwait(event.kafkaMessage(topic: configTopic))
            return OperationsController.json(.ok, StoredResource(kind: definition.kind, name: name, spec: spec))
        }
        group.delete(RouterPath(stringLiteral: "\(definition.path)/:name")) { _, context in
            let principal = try context.requirePrincipal([.admin])
            let name = try Self.validName(context.parameters.require("name"))
            guard cache.get(definition.kind, tenant: principal.tenant, name: name) != nil else {
                throw ProblemDetails.notFound("no \(definition.kind.rawValue) named \(name)")
            }
            let event = try ResourceRemoved(kind: definition.kind, name: name)
                .cloudEvent(
                    source: source, tenant: principal.tenant, partitionKey: principal.tenant,
                    subject: "\(definition.kind.rawValue)/\(name)")
            _ = try await producer.sendAndAwait(event.kafkaMessage(topic: configTopic))
            return Response(status: .noContent)
        }
    }

    static func validName(_ name: String) throws -> String {
        guard ResourceDefinition.isValidName(name) else {
            throw ProblemDetails.invalidField("metadata.name", "names are 1-63 lower-case letters, digits and dashes")
        }
        return name
    }
}
