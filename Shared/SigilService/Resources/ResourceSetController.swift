import Foundation
import HTTPTypes
import Hummingbird
import SigilEvents

/// `POST /v1/apply`: a set of documents of the kinds a service owns (what `sigil apply -f` sends), admitted in one
/// step of the tenant's admissions and written as one signed batch. The set must match the schema as a whole (a
/// malformed document refuses the request, naming `items[i]...`); then each document is admitted or refused on its
/// own, as a PUT would be, in any order: one naming a resource of the same set is admitted after it. The answer
/// lists every document's outcome, in the order sent, once this replica's projection shows the writes.
///
/// Why a set and not many PUTs: each PUT is signed alone and waits for the projection before the next may be
/// admitted, so 10,000 documents took minutes and a new edge verified 10,000 signatures (see DESIGN.md).
struct ResourceSetController: Sendable {
    let admissions: [ResourceKind: ResourceAdmission]
    let serializer: TenantSerializer
    let context: ServiceContext
    let log: any ConfigurationLog

    /// Documents per request; `sigil apply` sends larger files in several.
    static let maximumItems = 1_000
    static let maximumBytes = 16 * 1024 * 1024
    static let path = "apply"

    /// The request body: a `List` of documents of the given kinds.
    static func schema(_ definitions: [ResourceDefinition]) -> SpecSchema {
        .object(
            "Resource documents to create or replace, of the kinds this service owns.",
            [
                .init(
                    "apiVersion", .string(choices: [SigilAPI.version]), required: true,
                    "The API version of every Sigil kind."),
                .init("kind", .string(choices: ["List"]), required: true, "Always List."),
                .init(
                    "items",
                    .array(
                        of: .variants(
                            discriminator: "kind",
                            definitions.sorted { $0.kind.rawValue < $1.kind.rawValue }.map {
                                ($0.kind.rawValue, ResourceDocumentSchema.object($0, inSet: true))
                            }),
                        minItems: 0, maxItems: maximumItems),
                    required: true, "The documents, each with its kind and name."),
            ])
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        let schema = Self.schema(admissions.values.map(\.definition))
        group.post(RouterPath(stringLiteral: Self.path)) { request, context in
            let principal = try context.requirePrincipal([.admin])
            let dryRun = try ResourceController.dryRun(request)
            let assumed = try ResourceController.assumed(request)
            let document = try await ResourceController.document(
                request, maximumBytes: Self.maximumBytes,
                limit: "a set of documents is at most \(Self.maximumBytes / 1024 / 1024) MiB; send it in parts")
            guard case .array(let items) = try schema.admit(document, at: "")["items"] else {
                throw ProblemDetails.invalidField("items", "items must be a list")
            }
            let outcomes = try await serializer.run(tenant: principal.tenant) {
                try await apply(items, principal: principal, dryRun: dryRun, assumed: assumed)
            }
            var headers: HTTPFields = [.contentType: "application/json"]
            if dryRun { headers[.sigilDryRun] = "true" }
            let answer: JSONValue = [
                "apiVersion": .string(SigilAPI.version), "kind": "ApplyResult",
                "items": .array(try outcomes.map { try JSONValue(encoding: $0) }),
            ]
            return Response(
                status: .ok, headers: headers,
                body: .init(byteBuffer: ByteBuffer(data: try EventJSON.encoder.encode(answer))))
        }
        group.refuseOtherMethods(RouterPath(stringLiteral: Self.path), allowed: [.post])
    }

    /// Admits what it can of the set, writes it, and says what became of each document.
    func apply(
        _ items: [JSONValue], principal: AdminPrincipal, dryRun: Bool, assumed: Set<String>
    ) async throws -> [ItemOutcome] {
        // Every item passed the schema: it has a kind this service owns and a name.
        let targets = items.map { item in
            (kind: ResourceKind(rawValue: item["kind"]!.stringValue!)!, name: item["metadata"]!["name"]!.stringValue!)
        }
        var outcomes = targets.map { ItemOutcome(kind: $0.kind, name: $0.name) }
        var pending: [Int] = []
        var seen: Set<String> = []
        for (index, target) in targets.enumerated() {
            if seen.insert("\(target.kind.rawValue)/\(target.name)").inserted {
                pending.append(index)
            } else {
                outcomes[index].refuse(
                    .conflict("duplicate", "\(target.kind.rawValue) \(target.name) appears more than once in the set"))
            }
        }
        var claims = ResourceSetClaims()
        var changes: [(index: Int, change: AdmittedChange)] = []
        // Rounds: a document naming one later in the set is tried again once that one is admitted.
        while !pending.isEmpty {
            var retry: [Int] = []
            for index in pending {
                do {
                    let change = try await admissions[targets[index].kind]!.admit(
                        items[index], name: targets[index].name, principal: principal, ifMatch: nil, dryRun: dryRun,
                        assumed: assumed, earlier: claims)
                    claims.record(change)
                    changes.append((index, change))
                } catch let problem as ProblemDetails {
                    outcomes[index].refuse(problem)
                    if problem.type == "urn:sigil:problem:unknown-reference" { retry.append(index) }
                }
            }
            if retry.count == pending.count { break }
            pending = retry
        }
        let events = changes.compactMap(\.change.event)
        if !dryRun, !events.isEmpty { try await ResourceAdmission.publish(events, context: context, log: log) }
        for (index, change) in changes {
            // The version written (or, on a dry run, that would be); unchanged: the one there.
            let version = change.version ?? change.previous?.metadata.resourceVersion
            guard !dryRun, change.event != nil else {
                outcomes[index].admit(change.change, version: version)
                continue
            }
            do {
                let visible = try await admissions[change.kind]!.awaitProjection(
                    name: change.name, tenant: principal.tenant, from: change.previous, to: change.version)
                outcomes[index].admit(change.change, version: version, visible: visible)
            } catch let problem as ProblemDetails {
                outcomes[index].refuse(problem)
            }
        }
        return outcomes
    }

    /// What became of one document: `status` as its PUT would have answered, `change` when admitted, `problem` when
    /// refused.
    struct ItemOutcome: Encodable, Sendable {
        let kind: ResourceKind
        let name: String
        var status = 0
        var change: ResourceAdmission.Change?
        var resourceVersion: String?
        var problem: ProblemDetails?

        init(kind: ResourceKind, name: String) {
            self.kind = kind
            self.name = name
        }

        mutating func refuse(_ problem: ProblemDetails) {
            self.problem = problem
            status = problem.statusCode
        }

        mutating func admit(_ change: ResourceAdmission.Change, version: String?, visible: Bool = true) {
            problem = nil
            self.change = change
            resourceVersion = version
            status = !visible ? 202 : change == .created ? 201 : 200
        }
    }
}
