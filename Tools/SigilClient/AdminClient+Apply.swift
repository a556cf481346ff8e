import Foundation
import NIOHTTP1
import SigilEvents

extension AdminClient {
    /// Documents per request, and bytes (the service takes 1,000 and 16 MiB).
    public static let setItems = 1_000
    static let setBytes = 8 * 1024 * 1024

    /// Sends each service the documents of its kinds as sets (`POST /v1/apply`, up to 1,000 a request), each
    /// admitted in one step and written as one signed batch. Documents may come in any order: the service admits one
    /// naming another of the same set after it, and one naming a resource of another service that is not there yet
    /// is tried again after the others, as long as a round makes progress. On a dry run every document of the file
    /// counts as existing for reference checks. `progress` hears the count done after each request.
    public func apply(
        _ documents: [ResourceDocument], dryRun: Bool = false, progress: ((_ done: Int, _ of: Int) -> Void)? = nil
    ) async throws -> [Result] {
        var done = 0
        return try await inRounds(documents, retrying: "unknown-reference") { pending in
            try await sendSets(pending, of: documents, as: .apply, dryRun: dryRun) { answered in
                done += answered.filter { !$0.refused }.count
                progress?(done, documents.count)
            }
        }
    }

    /// What a set request does: `POST /v1/apply` sends whole documents, `POST /v1/delete` kinds and names.
    enum SetRequest {
        case apply, delete

        var path: String { self == .apply ? "/v1/apply" : "/v1/delete" }

        func item(_ document: ResourceDocument) -> JSONValue {
            switch self {
            case .apply: document.document
            case .delete: ["kind": .string(document.kind.rawValue), "metadata": ["name": .string(document.name)]]
            }
        }
    }

    /// `pending` (of `documents`) to the services that own their kinds, as sets small enough for one request each.
    /// On a dry run, each service is told the other services' documents (`Sigil-Dry-Run-Set`).
    func sendSets(
        _ pending: [ResourceDocument], of documents: [ResourceDocument], as request: SetRequest, dryRun: Bool,
        answered: ([Result]) -> Void = { _ in }
    ) async throws -> [Result] {
        var results: [Result] = []
        let services = Dictionary(grouping: pending) { Self.routes[$0.kind]! }
        for service in services.keys.sorted() {
            let others = dryRun ? documents.filter { Self.routes[$0.kind] != service }.map(\.reference) : []
            for set in Self.sets(of: services[service]!, as: request) {
                let outcomes = try await sendSet(
                    set, as: request, to: try setting(service), dryRun: dryRun, assuming: others)
                answered(outcomes)
                results += outcomes
            }
        }
        return results
    }

    /// The documents in sets small enough for one request.
    static func sets(of documents: [ResourceDocument], as request: SetRequest) -> [[ResourceDocument]] {
        var sets: [[ResourceDocument]] = [[]]
        var bytes = 0
        for document in documents {
            let size = (try? EventJSON.encoder.encode(request.item(document)).count) ?? 0
            if sets[sets.count - 1].count == setItems || (bytes + size > setBytes && !sets[sets.count - 1].isEmpty) {
                sets.append([])
                bytes = 0
            }
            sets[sets.count - 1].append(document)
            bytes += size
        }
        return sets.filter { !$0.isEmpty }
    }

    /// One set to one service (at `base`). A document the schema refuses refuses the request, naming `items[i]`: it
    /// is reported and the rest sent again.
    func sendSet(
        _ documents: [ResourceDocument], as request: SetRequest, to base: String, dryRun: Bool,
        assuming others: [String]
    ) async throws -> [Result] {
        var documents = documents
        var refused: [Result] = []
        while !documents.isEmpty {
            let body = try EventJSON.encoder.encode(
                ["apiVersion": "sigil.dev/v1", "kind": "List", "items": .array(documents.map(request.item))]
                    as JSONValue)
            let assumed = others.joined(separator: ", ")
            let (status, answer, _) = try await send(
                .POST, base + request.path + (dryRun ? "?dryRun=true" : ""), body: body,
                headers: dryRun && !assumed.isEmpty && assumed.utf8.count <= 65_536
                    ? [("Sigil-Dry-Run-Set", assumed)] : [])
            if status == 200, let set = try? JSONDecoder().decode(SetAnswer.self, from: answer),
                set.items.count == documents.count
            {
                return refused
                    + zip(documents, set.items).map { document, item in
                        Result(
                            document: document, status: item.status, change: item.change, detail: item.problem?.detail,
                            problemType: item.problem?.type)
                    }
            }
            // `items[3].spec.port`: that document is at fault; the others go again.
            if status == 422, let problem = try? JSONDecoder().decode(SetAnswer.Problem.self, from: answer),
                let index = Self.itemIndex(problem.field), documents.indices.contains(index)
            {
                refused.append(
                    Result(
                        document: documents.remove(at: index), status: status, change: nil,
                        detail: problem.detail?.replacingOccurrences(of: "items[\(index)].", with: ""),
                        problemType: problem.type))
                continue
            }
            let detail = Self.describe(answer)
            return refused
                + documents.map {
                    Result(document: $0, status: status, change: nil, detail: detail, problemType: nil)
                }
        }
        return refused
    }

    /// What `POST /v1/apply` and `POST /v1/delete` answer, as far as the client reads it.
    struct SetAnswer: Decodable {
        struct Item: Decodable {
            let status: Int
            let change: String?
            let problem: Problem?
        }
        struct Problem: Decodable {
            let type: String?
            let detail: String?
            let field: String?
        }
        let items: [Item]
    }

    /// `items[3].spec.port` → 3.
    static func itemIndex(_ field: String?) -> Int? {
        guard let field, field.hasPrefix("items["), let close = field.firstIndex(of: "]") else { return nil }
        return Int(field[field.index(field.startIndex, offsetBy: 6)..<close])
    }
}
