import SigilEvents

/// A document admission accepted, not yet written: what it changes, and the (unsigned) event that writes it.
struct AdmittedChange: Sendable {
    let kind: ResourceKind
    let name: String
    let change: ResourceAdmission.Change
    /// What no other resource of the kind may share (`ResourceSpec.uniqueness`).
    let uniqueness: String?
    /// The resource as it will read; nil when unchanged (it reads as stored).
    let document: JSONValue?
    /// Nil when nothing changes.
    let event: CloudEvent?
    /// The resourceVersion the write creates.
    var version: String? = nil
    /// The resource as the catalog holds it now.
    let previous: CatalogEntry?

    /// `Kind/name`, as references and the dry-run set name it.
    var reference: String { "\(kind.rawValue)/\(name)" }
}

/// What the documents admitted so far in one set hold: later documents may name them, and may not take their
/// uniqueness.
struct ResourceSetClaims: Sendable {
    /// `Kind/name` of each.
    private(set) var admitted: Set<String> = []
    private var holders: [ResourceKind: [String: String]] = [:]

    mutating func record(_ change: AdmittedChange) {
        admitted.insert(change.reference)
        if let uniqueness = change.uniqueness { holders[change.kind, default: [:]][uniqueness] = change.name }
    }

    /// The resource of the set that already has `uniqueness` for the kind.
    func holder(of uniqueness: String, kind: ResourceKind) -> String? { holders[kind]?[uniqueness] }
}
