import Crypto
import Foundation
import SigilEvents
import SigilKafka

/// Admission of one kind's writes: the document is checked against the kind's schema (defaults filled), decoded
/// into its type and checked by it, its references must exist, it must not clash with another resource of the kind,
/// and a given `resourceVersion` must be current. Only then is it published to `sigil.config`; the answer waits
/// until this replica's projection shows the outcome (read-your-writes).
struct ResourceAdmission: Sendable {
    enum Change: String, Sendable, Encodable {
        case created, updated, unchanged, deleted
    }

    struct Outcome: Sendable {
        let change: Change
        /// The resource document (absent after a delete).
        let resource: JSONValue?
        /// False if the event is in the log but this replica had not applied it within the wait.
        var visible = true
    }

    let definition: ResourceDefinition
    let store: ResourceStore
    let context: ServiceContext
    /// Where admitted changes go: `sigil.config`.
    let log: any ConfigurationLog
    /// How long a write waits for this replica's projection to show it.
    var projectionWait: Duration = .seconds(10)

    /// `assumed` (`Kind/name`, on a dry run only): resources to count as existing, because the same apply would
    /// create them first.
    func define(
        _ document: JSONValue, name: String, principal: AdminPrincipal, ifMatch: String?, dryRun: Bool,
        assumed: Set<String> = []
    ) async throws -> Outcome {
        let change = try await admit(
            try ResourceDocumentSchema.document(definition).admit(document, at: ""), name: name, principal: principal,
            ifMatch: ifMatch, dryRun: dryRun, assumed: assumed)
        guard !dryRun, let event = change.event else {
            return Outcome(
                change: change.change, resource: try change.document ?? definition.read(store, principal.tenant, name))
        }
        try await Self.publish([event], context: context, log: log)
        let visible = try await awaitProjection(
            name: name, tenant: principal.tenant, from: change.previous, to: change.version)
        return Outcome(
            change: change.change, resource: try definition.read(store, principal.tenant, name) ?? change.document,
            visible: visible)
    }

    /// Checks a document that its schema admitted and makes the change it asks for, without writing it. `earlier`:
    /// what documents before it in the same set admitted (they count as existing, and their uniqueness is taken).
    func admit(
        _ admitted: JSONValue, name: String, principal: AdminPrincipal, ifMatch: String?, dryRun: Bool,
        assumed: Set<String> = [], earlier: ResourceSetClaims = ResourceSetClaims()
    ) async throws -> AdmittedChange {
        let tenant = principal.tenant
        let metadata: SubmittedMetadata
        do {
            metadata = try admitted["metadata"]!.decode(SubmittedMetadata.self)
        } catch {
            throw ProblemDetails.invalidField("metadata", "metadata could not be read")
        }
        guard metadata.name == nil || metadata.name == name else {
            throw ProblemDetails.invalidField("metadata.name", "metadata.name must be \(name), the name in the path")
        }
        if let submittedTenant = metadata.tenant, submittedTenant != tenant {
            throw ProblemDetails.invalidField("metadata.tenant", "metadata.tenant must be the token's tenant")
        }
        let current = store.catalog.entry(definition.kind, name, tenant: tenant)
        try Self.checkPrecondition(ifMatch ?? metadata.resourceVersion, current: current, name: name)

        let spec = try await definition.admit(
            admitted["spec"]!, AdmissionTarget(tenant: tenant, name: name, store: store, context: context))
        for reference in spec.references
        where store.catalog.entry(reference.kind, reference.name, tenant: tenant) == nil {
            let named = "\(reference.kind.rawValue)/\(reference.name)"
            if earlier.admitted.contains(named) || (dryRun && assumed.contains(named)) { continue }
            throw ProblemDetails(
                status: .unprocessableContent, slug: "unknown-reference", title: "Unknown reference",
                detail: "\(reference.field) names \(reference.kind.rawValue) \(reference.name), which does not exist",
                field: reference.field)
        }
        if let uniqueness = spec.uniqueness,
            let other = spec.clashesWith ?? earlier.holder(of: uniqueness, kind: definition.kind)
        {
            throw ProblemDetails.conflict(
                "duplicate", "\(definition.kind.rawValue) \(other) already has \(uniqueness)", field: "spec")
        }
        if let current, spec.unchanged, current.metadata.labels == metadata.labels {
            return AdmittedChange(
                kind: definition.kind, name: name, change: .unchanged, uniqueness: spec.uniqueness, document: nil,
                event: nil, previous: current)
        }

        let now = Date()
        let resourceMetadata = ResourceMetadata(
            name: name, tenant: tenant, labels: metadata.labels, uid: current?.metadata.uid ?? UUIDv7.generate(at: now),
            resourceVersion: UUIDv7.generate(at: now),
            generation: (current?.metadata.generation ?? 0) + (spec.unchanged ? 0 : 1),
            createdAt: current?.metadata.createdAt ?? now, updatedAt: now,
            createdBy: current?.metadata.createdBy ?? principal.tokenName)
        let defined = ResourceDefined(
            kind: definition.kind, metadata: resourceMetadata, spec: spec.spec,
            previousResourceVersion: current?.metadata.resourceVersion, references: spec.references,
            specDigest: Self.digest(spec.spec), changedBy: principal.actor)
        let document: JSONValue = [
            "apiVersion": .string(SigilAPI.version), "kind": .string(definition.kind.rawValue),
            "metadata": try JSONValue(encoding: resourceMetadata), "spec": spec.spec,
        ]
        return AdmittedChange(
            kind: definition.kind, name: name, change: current == nil ? .created : .updated,
            uniqueness: spec.uniqueness, document: document,
            event: try event(defined, tenant: tenant, name: name), version: resourceMetadata.resourceVersion,
            previous: current)
    }

    /// `assumed` (`Kind/name`, on a dry run only): resources to count as gone, because the same delete would remove
    /// them too.
    func remove(
        name: String, principal: AdminPrincipal, ifMatch: String?, dryRun: Bool, assumed: Set<String> = []
    ) async throws -> Outcome {
        let change = try removal(name: name, principal: principal, ifMatch: ifMatch, dryRun: dryRun, assumed: assumed)
        guard let event = change.event else { return Outcome(change: .deleted, resource: nil) }
        try await Self.publish([event], context: context, log: log)
        let visible = try await awaitProjection(name: name, tenant: principal.tenant, from: change.previous, to: nil)
        return Outcome(change: .deleted, resource: nil, visible: visible)
    }

    /// Checks a deletion and makes its change, without writing it (no event on a dry run). `going`: `Kind/name` of
    /// resources deleted with it (a set's earlier deletions; on a dry run also `assumed`), which may still name it.
    func removal(
        name: String, principal: AdminPrincipal, ifMatch: String?, dryRun: Bool, assumed: Set<String> = [],
        going: Set<String> = []
    ) throws -> AdmittedChange {
        let tenant = principal.tenant
        guard let current = store.catalog.entry(definition.kind, name, tenant: tenant),
            try definition.read(store, tenant, name) != nil
        else {
            throw ProblemDetails.notFound("no \(definition.kind.rawValue) named \(name)")
        }
        try Self.checkPrecondition(ifMatch, current: current, name: name)
        let referrers = store.catalog.referrers(of: definition.kind, name, tenant: tenant).filter {
            let named = "\($0.kind.rawValue)/\($0.metadata.name)"
            return !going.contains(named) && !(dryRun && assumed.contains(named))
        }
        if !referrers.isEmpty {
            let names = referrers.map { "\($0.kind.rawValue)/\($0.metadata.name)" }.joined(separator: ", ")
            throw ProblemDetails.conflict(
                "in-use", "\(definition.kind.rawValue) \(name) is named by \(names); change or delete them first")
        }
        let removed = ResourceRemoved(
            kind: definition.kind, name: name, resourceVersion: current.metadata.resourceVersion,
            changedBy: principal.actor)
        return AdmittedChange(
            kind: definition.kind, name: name, change: .deleted, uniqueness: nil, document: nil,
            event: dryRun ? nil : try event(removed, tenant: tenant, name: name), previous: current)
    }

    /// A stale or impossible `resourceVersion` is a conflict; none means "whatever is there".
    static func checkPrecondition(_ expected: String?, current: CatalogEntry?, name: String) throws {
        guard let expected else { return }
        let version = expected.trimmingCharacters(in: CharacterSet(charactersIn: "\" ")).replacingOccurrences(
            of: "W/", with: "")
        guard let current else {
            throw ProblemDetails.conflict(
                "stale-resource-version", "\(name) does not exist, so resourceVersion \(version) cannot be current")
        }
        guard current.metadata.resourceVersion == version else {
            throw ProblemDetails.conflict(
                "stale-resource-version",
                "\(name) has changed since resourceVersion \(version); read it again and reapply your change",
                field: "metadata.resourceVersion")
        }
    }

    /// The change as an unsigned configuration event.
    private func event(_ payload: some EventPayload, tenant: String, name: String) throws -> CloudEvent {
        try payload.cloudEvent(
            // Keyed per resource: the compacted config topic keeps each resource's latest event.
            source: context.source, tenant: tenant, partitionKey: "\(tenant)/\(definition.kind.rawValue)/\(name)",
            subject: "\(definition.kind.rawValue)/\(name)")
    }

    /// Signs the events together (one signature over a set: see `EventSigner.sign(batch:)`) and writes them to the
    /// configuration log; all were written when this returns.
    static func publish(_ events: [CloudEvent], context: ServiceContext, log: any ConfigurationLog) async throws {
        do {
            try await log.append(contentsOf: try context.sign(batch: events))
        } catch {
            context.logger.error("configuration not published", metadata: ["error": "\(String(reflecting: error))"])
            throw ProblemDetails(
                status: .serviceUnavailable, slug: "config-log-unavailable", title: "Configuration log unavailable",
                detail: events.count == 1
                    ? "the change could not be written to the configuration log; nothing was changed, try again"
                    : "the changes could not all be written to the configuration log; some may have been: apply again"
            )
        }
    }

    /// Waits until this replica shows `version` (nil: the resource gone). Another version appearing first means a
    /// write from elsewhere won the race: ours will never take effect. Looked for every 2 ms (a lookup under a lock;
    /// one waiter per tenant, since admissions are serialized): a write's answer comes ~1 ms after its projection.
    func awaitProjection(
        name: String, tenant: String, from previous: CatalogEntry?, to version: String?
    ) async throws -> Bool {
        let deadline = ContinuousClock.now + projectionWait
        while ContinuousClock.now < deadline {
            let now = store.catalog.entry(definition.kind, name, tenant: tenant)?.metadata.resourceVersion
            if now == version { return true }
            if now != previous?.metadata.resourceVersion {
                throw ProblemDetails.conflict(
                    "stale-resource-version",
                    "\(name) was changed by another writer at the same moment; read it again and reapply your change")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        context.logger.warning(
            "configuration published but not yet projected",
            metadata: ["resource": "\(definition.kind.rawValue)/\(name)"])
        return false
    }

    static func digest(_ spec: JSONValue) -> String {
        let bytes = (try? EventJSON.encoder.encode(spec)) ?? Data()
        return SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

extension AdminPrincipal {
    var actor: ResourceActor { ResourceActor(tokenName: tokenName, role: role.rawValue) }
}
