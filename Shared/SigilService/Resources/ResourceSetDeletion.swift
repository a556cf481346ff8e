import Foundation
import SigilEvents

/// `POST /v1/delete`: a set of resources of the kinds a service owns (what `sigil delete -f` sends), each named by
/// kind and name, deleted in one step of the tenant's admissions and written as one signed batch. Each is deleted or
/// refused on its own, as its DELETE would be: one still named by another of the same set is deleted once that one
/// is, so the set may come in any order. The answer lists every item's outcome, in the order sent, once this
/// replica's projection shows the deletions.
extension ResourceSetController {
    static let deletionPath = "delete"

    /// The request body: a `List` of kinds and names.
    static func deletionSchema(_ definitions: [ResourceDefinition]) -> SpecSchema {
        let name = SpecSchema.object(
            "Its name.",
            [.init("name", .string(maxLength: 63, pattern: SpecSchema.dnsLabel), required: true, "Its name.")])
        return list(
            "Resources to delete, of the kinds this service owns.",
            of: .object(
                "One resource, by kind and name.",
                [
                    .init("apiVersion", .string(choices: [SigilAPI.version]), "The API version."),
                    .init(
                        "kind", .string(choices: definitions.map(\.kind.rawValue).sorted()), required: true, "Its kind."
                    ),
                    .init("metadata", name, required: true, "Its name."),
                ]),
            "The resources.")
    }

    /// Deletes what it can of the set, writes it, and says what became of each item. A resource still named by
    /// another of the set is tried again once that one has gone.
    func delete(
        _ items: [JSONValue], principal: AdminPrincipal, dryRun: Bool, assumed: Set<String>
    ) async throws -> [ItemOutcome] {
        var going: Set<String> = []
        return try await settle(items, retrying: "in-use", principal: principal, dryRun: dryRun) { _, kind, name in
            let change = try admissions[kind]!.removal(
                name: name, principal: principal, ifMatch: nil, dryRun: dryRun, assumed: assumed, going: going)
            going.insert(change.reference)
            return change
        }
    }
}
