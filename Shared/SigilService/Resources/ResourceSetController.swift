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
        list(
            "Resource documents to create or replace, of the kinds this service owns.",
            of: .variants(
                discriminator: "kind",
                definitions.sorted { $0.kind.rawValue < $1.kind.rawValue }.map {
                    ($0.kind.rawValue, ResourceDocumentSchema.object($0, inSet: true))
                }),
            "The documents, each with its kind and name.")
    }

    /// A `List` of up to `maximumItems` items.
    static func list(_ description: String, of item: SpecSchema, _ itemsDescription: String) -> SpecSchema {
        .object(
            description,
            [
                .init(
                    "apiVersion", .string(choices: [SigilAPI.version]), required: true,
                    "The API version of every Sigil kind."),
                .init("kind", .string(choices: ["List"]), required: true, "Always List."),
                .init("items", .array(of: item, minItems: 0, maxItems: maximumItems), required: true, itemsDescription),
            ])
    }

    func add(to group: RouterGroup<AdminRequestContext>) {
        let definitions = admissions.values.map(\.definition)
        addSetRoute(Self.path, schema: Self.schema(definitions), to: group, run: apply)
        addSetRoute(Self.deletionPath, schema: Self.deletionSchema(definitions), to: group, run: delete)
    }

    /// `POST /v1/<path>` (admin role; `?dryRun=true`, `Sigil-Dry-Run-Set`): the body checked against `schema` as a
    /// whole, then `run` in one step of the tenant's admissions; every item's outcome.
    private func addSetRoute(
        _ path: String, schema: SpecSchema, to group: RouterGroup<AdminRequestContext>,
        run: @escaping @Sendable ([JSONValue], AdminPrincipal, Bool, Set<String>) async throws -> [ItemOutcome]
    ) {
        group.post(RouterPath(stringLiteral: path)) { request, context in
            let principal = try context.requirePrincipal([.admin])
            let dryRun = try ResourceController.dryRun(request)
            let assumed = try ResourceController.assumed(request)
            let document = try await ResourceController.document(
                request, maximumBytes: Self.maximumBytes,
                limit: "a set is at most \(Self.maximumBytes / 1024 / 1024) MiB; send it in parts")
            guard case .array(let items) = try schema.admit(document, at: "")["items"] else {
                throw ProblemDetails.invalidField("items", "items must be a list")
            }
            let outcomes = try await serializer.run(tenant: principal.tenant) {
                try await run(items, principal, dryRun, assumed)
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
        group.refuseOtherMethods(RouterPath(stringLiteral: path), allowed: [.post])
    }

    /// Admits what it can of the set, writes it, and says what became of each document. A document naming one later
    /// in the set is tried again once that one is admitted.
    func apply(
        _ items: [JSONValue], principal: AdminPrincipal, dryRun: Bool, assumed: Set<String>
    ) async throws -> [ItemOutcome] {
        var claims = ResourceSetClaims()
        return try await settle(items, retrying: "unknown-reference", principal: principal, dryRun: dryRun) {
            index, kind, name in
            let change = try await admissions[kind]!.admit(
                items[index], name: name, principal: principal, ifMatch: nil, dryRun: dryRun, assumed: assumed,
                earlier: claims)
            claims.record(change)
            return change
        }
    }

    /// Each item's change (`change`), in rounds: an item refused with `slug` is tried again once others of the set
    /// have gone through, while a round makes progress; a `Kind/name` twice is refused. What goes through is written
    /// as one signed batch; every item's outcome, in the order sent.
    func settle(
        _ items: [JSONValue], retrying slug: String, principal: AdminPrincipal, dryRun: Bool,
        _ change: (_ index: Int, _ kind: ResourceKind, _ name: String) async throws -> AdmittedChange
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
        var changes: [(index: Int, change: AdmittedChange)] = []
        while !pending.isEmpty {
            var retry: [Int] = []
            for index in pending {
                do {
                    changes.append((index, try await change(index, targets[index].kind, targets[index].name)))
                } catch let problem as ProblemDetails {
                    outcomes[index].refuse(problem)
                    if problem.type == "urn:sigil:problem:\(slug)" { retry.append(index) }
                }
            }
            if retry.count == pending.count { break }
            pending = retry
        }
        try await write(changes, into: &outcomes, principal: principal, dryRun: dryRun)
        return outcomes
    }

    /// Writes the admitted changes as one signed batch (not on a dry run) and records each one's outcome once this
    /// replica shows it.
    func write(
        _ changes: [(index: Int, change: AdmittedChange)], into outcomes: inout [ItemOutcome],
        principal: AdminPrincipal, dryRun: Bool
    ) async throws {
        let events = changes.compactMap(\.change.event)
        if !dryRun, !events.isEmpty { try await ResourceAdmission.publish(events, context: context, log: log) }
        for (index, change) in changes {
            // The version written (or, on a dry run, that would be); unchanged: the one there; deleted: none.
            let version = change.change == .deleted ? nil : change.version ?? change.previous?.metadata.resourceVersion
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
            status = !visible ? 202 : change == .created ? 201 : change == .deleted ? 204 : 200
        }
    }
}
