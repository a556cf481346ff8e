import Foundation
import HTTPTypes
import Hummingbird
import SigilEvents

/// The admin API of one kind under `/v1/<path>`: GET lists (by name, paged with `limit` and `continue`) or reads
/// (admin, auditor); PUT creates or replaces a whole document (admin; idempotent; `If-Match` or
/// `metadata.resourceVersion` for optimistic concurrency; `?dryRun=true` admits without writing); DELETE removes
/// (admin; refused while other resources name it).
public struct ResourceController: Sendable {
    let admission: ResourceAdmission
    let serializer: TenantSerializer

    static let maximumDocumentBytes = 256 * 1024
    var definition: ResourceDefinition { admission.definition }

    /// The admin API of every kind a service owns, admissions serialized per tenant across kinds.
    public static func add(
        _ definitions: [ResourceDefinition], to group: RouterGroup<AdminRequestContext>, store: ResourceStore,
        context: ServiceContext, log: any ConfigurationLog
    ) {
        let serializer = TenantSerializer()
        var admissions: [ResourceKind: ResourceAdmission] = [:]
        for definition in definitions {
            let admission = ResourceAdmission(definition: definition, store: store, context: context, log: log)
            admissions[definition.kind] = admission
            ResourceController(admission: admission, serializer: serializer).add(to: group)
        }
        guard !admissions.isEmpty else { return }
        ResourceSetController(admissions: admissions, serializer: serializer, context: context, log: log).add(to: group)
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        let collection = RouterPath(stringLiteral: definition.path)
        let item = RouterPath(stringLiteral: "\(definition.path)/:name")
        group.get(collection) { request, context in
            let principal = try context.requirePrincipal()
            let (items, next) = try definition.list(admission.store, principal.tenant, try ResourceListPage(request))
            let metadata: JSONValue = next.map { ["continue": .string(ResourceListPage.token(after: $0))] } ?? [:]
            return try Self.json(
                .ok,
                [
                    "apiVersion": .string(SigilAPI.version), "kind": .string("\(definition.kind.rawValue)List"),
                    "metadata": metadata, "items": .array(items),
                ])
        }
        group.get(item) { _, context in
            let principal = try context.requirePrincipal()
            let name = try context.parameters.require("name")
            guard let resource = try definition.read(admission.store, principal.tenant, name) else {
                throw ProblemDetails.notFound("no \(definition.kind.rawValue) named \(name)")
            }
            return try Self.json(.ok, resource, version: resource["metadata"]?["resourceVersion"]?.stringValue)
        }
        group.put(item) { request, context in
            let principal = try context.requirePrincipal([.admin])
            let name = try Self.validName(context.parameters.require("name"))
            let dryRun = try Self.dryRun(request)
            let document = try await Self.document(request)
            let assumed = try Self.assumed(request)
            let ifMatch = try Self.ifMatch(request)
            let outcome = try await serializer.run(tenant: principal.tenant) {
                try await admission.define(
                    document, name: name, principal: principal, ifMatch: ifMatch, dryRun: dryRun, assumed: assumed)
            }
            return try Self.response(outcome, dryRun: dryRun)
        }
        group.delete(item) { request, context in
            let principal = try context.requirePrincipal([.admin])
            let name = try Self.validName(context.parameters.require("name"))
            let dryRun = try Self.dryRun(request)
            let assumed = try Self.assumed(request)
            let ifMatch = try Self.ifMatch(request)
            let outcome = try await serializer.run(tenant: principal.tenant) {
                try await admission.remove(
                    name: name, principal: principal, ifMatch: ifMatch, dryRun: dryRun, assumed: assumed)
            }
            return try Self.response(outcome, dryRun: dryRun)
        }
        group.refuseOtherMethods(collection, allowed: [.get])
        group.refuseOtherMethods(item, allowed: [.get, .put, .delete])
    }

    static func validName(_ name: String) throws -> String {
        guard (try? Regex(SpecSchema.dnsLabel.regex).wholeMatch(in: name)) != nil else {
            throw ProblemDetails.invalidField("metadata.name", "metadata.name must be \(SpecSchema.dnsLabel.meaning)")
        }
        return name
    }

    /// The resources a dry run of a set is to assume (created by an apply, or gone by a delete, of the same set).
    static func assumed(_ request: Request) throws -> Set<String> {
        let text = request.headers[.sigilAssume] ?? ""
        guard text.utf8.count <= 65_536 else {
            throw ProblemDetails.invalidField("Sigil-Dry-Run-Set", "Sigil-Dry-Run-Set must be at most 64 KiB")
        }
        return Set(text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
    }

    /// The `If-Match` precondition, if any.
    static func ifMatch(_ request: Request) throws -> String? {
        guard let value = request.headers[.ifMatch] else { return nil }
        guard value.utf8.count <= 66 else {
            throw ProblemDetails.invalidField("If-Match", "If-Match must be one resourceVersion, as the ETag gives it")
        }
        return value
    }

    static func dryRun(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters["dryRun"].map(String.init) {
        case nil, "false": return false
        case "true": return true
        default: throw ProblemDetails.invalidField("dryRun", "dryRun must be true or false")
        }
    }

    /// The JSON body, up to `maximumBytes`; `limit` says the limit to a person when the body is larger.
    static func document(
        _ request: Request, maximumBytes: Int = maximumDocumentBytes,
        limit: String = "a resource document is at most \(maximumDocumentBytes / 1024) KiB"
    ) async throws -> JSONValue {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: maximumBytes)
        } catch {
            throw ProblemDetails(
                status: .contentTooLarge, slug: "document-too-large", title: "Document too large", detail: limit)
        }
        guard let document = try? JSONDecoder().decode(JSONValue.self, from: Data(buffer: body)) else {
            throw ProblemDetails(
                status: .badRequest, slug: "malformed-body", title: "Malformed body",
                detail: "the body is not a JSON document")
        }
        return document
    }

    static func response(_ outcome: ResourceAdmission.Outcome, dryRun: Bool) throws -> Response {
        var headers: HTTPFields = [.sigilChange: outcome.change.rawValue]
        if dryRun { headers[.sigilDryRun] = "true" }
        guard let resource = outcome.resource else { return Response(status: .noContent, headers: headers) }
        let status: HTTPResponse.Status =
            !outcome.visible ? .accepted : outcome.change == .created ? .created : .ok
        var response = try json(status, resource, version: resource["metadata"]?["resourceVersion"]?.stringValue)
        response.headers.append(contentsOf: headers)
        return response
    }

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue, version: String? = nil) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let version { headers[.eTag] = "\"\(version)\"" }
        return Response(
            status: status, headers: headers,
            body: .init(byteBuffer: ByteBuffer(data: try EventJSON.encoder.encode(value))))
    }
}

extension HTTPField.Name {
    /// What a write did: `created`, `updated`, `unchanged` or `deleted` (also on a dry run: what it would do).
    static let sigilChange = Self("Sigil-Change")!
    static let sigilDryRun = Self("Sigil-Dry-Run")!
    /// On a dry run, `Kind/name, ...`: the rest of the set being applied (counted as existing) or deleted (as gone).
    static let sigilAssume = Self("Sigil-Dry-Run-Set")!
}
