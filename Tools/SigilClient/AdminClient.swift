import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilEvents

/// Talks to the services' admin APIs with the operator's token. Settings come from the environment, falling back
/// to the local constellation's `.sigil/dev/env`.
public struct AdminClient {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// Which service owns a kind: the variable holding its URL.
    public static let routes: [ResourceKind: String] = [
        .trustProvider: "SIGIL_ATTEST_URL", .clientWorkload: "SIGIL_ATTEST_URL",
        .serverWorkload: "SIGIL_POLICY_URL", .accessPolicy: "SIGIL_POLICY_URL", .postureFeed: "SIGIL_POLICY_URL",
        .credentialProvider: "SIGIL_ISSUE_URL", .logStream: "SIGIL_AUDIT_URL",
    ]

    /// The kinds the CLI manages, for help texts.
    public static var kindNames: String { routes.keys.map(\.rawValue).sorted().joined(separator: ", ") }

    /// A kind from how a person types it: `ServerWorkload`, `serverworkload`, `server-workloads`.
    public static func kind(named text: String) throws -> ResourceKind {
        let wanted = text.lowercased().replacingOccurrences(of: "-", with: "")
        guard
            let kind = routes.keys.first(where: {
                $0.rawValue.lowercased() == wanted || $0.pathComponent.replacingOccurrences(of: "-", with: "") == wanted
            })
        else { throw Failure(description: "unknown kind \(text); one of \(kindNames)") }
        return kind
    }

    public let settings: [String: String]
    let client = HTTPClient.shared

    public init(envFile: String = ".sigil/dev/env") {
        var settings = Self.readEnvFile(envFile)
        for (key, value) in ProcessInfo.processInfo.environment where key.hasPrefix("SIGIL_") { settings[key] = value }
        self.settings = settings
    }

    public func setting(_ name: String) throws -> String {
        guard let value = settings[name], !value.isEmpty else {
            throw Failure(
                description: "\(name) is not set (export it, or start the local constellation with `sigil dev up`)")
        }
        return value
    }

    public func url(for kind: ResourceKind, name: String? = nil) throws -> String {
        guard let variable = Self.routes[kind] else {
            throw Failure(description: "\(kind.rawValue) is not managed through an admin API")
        }
        return try setting(variable) + "/v1/\(kind.pathComponent)" + (name.map { "/\($0)" } ?? "")
    }

    /// Every resource of `kind` in the token's tenant, by name, read 500 at a time (`limit` and `continue`): a tenant
    /// of any size lists within the 16 MiB this client reads per response.
    public func list(_ kind: ResourceKind) async throws -> [JSONValue] {
        var items: [JSONValue] = []
        var next: String?
        repeat {
            // The token is base64url: nothing in it needs escaping.
            let url = try self.url(for: kind) + "?limit=500" + (next.map { "&continue=" + $0 } ?? "")
            let (status, body, _) = try await send(.GET, url)
            guard status == 200, let page = try? JSONDecoder().decode(JSONValue.self, from: body) else {
                throw Failure(description: "listing \(kind.rawValue) failed (\(status)): \(Self.describe(body))")
            }
            if case .array(let listed) = page["items"] { items += listed }
            next = page["metadata"]?["continue"]?.stringValue
        } while next != nil
        return items
    }

    /// Sends a request; returns status, body and headers.
    /// `tokenSetting` names the bearer token: the admin token, or an edge's own (`SIGIL_EDGE_ROLE_TOKEN`).
    public func send(
        _ method: HTTPMethod, _ url: String, body: Data? = nil, headers: [(String, String)] = [],
        tokenSetting: String = "SIGIL_ADMIN_TOKEN"
    ) async throws -> (status: Int, body: Data, headers: HTTPHeaders) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(try setting(tokenSetting))")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return (Int(response.status.code), Data(buffer: bytes), response.headers)
    }

    /// The `detail` of a problem document, or the body.
    public static func describe(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let detail = object["detail"] as? String
        {
            return detail
        }
        return String(decoding: body.prefix(500), as: UTF8.self)
    }

    /// `KEY=VALUE` lines (the format of `.sigil/dev/env`); a missing file is empty.
    public static func readEnvFile(_ path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        return values
    }

    /// What became of one document of an apply or delete.
    public struct Result: Sendable {
        public let document: ResourceDocument
        public let status: Int
        /// `created`, `updated`, `unchanged` or `deleted` when accepted.
        public let change: String?
        /// The refusal's detail when refused.
        public let detail: String?
        /// The refusal's problem type (`urn:sigil:problem:...`).
        var problemType: String? = nil

        public var refused: Bool { change == nil }
    }

    /// Deletes the documents' resources: each service gets those of its kinds as sets (`POST /v1/delete`, up to 1,000
    /// a request), deleted in one step and written as one signed batch; within a set, in any order. A resource still
    /// named by a resource of another service is tried again after the others, as long as a round makes progress. On
    /// a dry run every resource of the file counts as gone.
    public func delete(_ documents: [ResourceDocument], dryRun: Bool = false) async throws -> [Result] {
        try await inRounds(documents, retrying: "in-use") { pending in
            try await sendSets(pending, of: documents, as: .delete, dryRun: dryRun)
        }
    }

    /// Attempts the documents in rounds: those refused with `slug` go again after the others, as long as a round
    /// makes progress.
    func inRounds(
        _ documents: [ResourceDocument], retrying slug: String,
        _ attempt: ([ResourceDocument]) async throws -> [Result]
    ) async throws -> [Result] {
        var results: [String: Result] = [:]
        var pending = documents
        // A resource another service just accepted reaches the owner of a document naming it through the bus a few
        // milliseconds later: a round without progress is tried again for a while before the refusals stand.
        var stalledSince: ContinuousClock.Instant?
        while !pending.isEmpty {
            var retry: [ResourceDocument] = []
            for result in try await attempt(pending) {
                results[result.document.reference] = result
                if result.refused, result.problemType == "urn:sigil:problem:\(slug)" { retry.append(result.document) }
            }
            if retry.count < pending.count {
                stalledSince = nil
            } else {
                let accepted = results.values.contains { !$0.refused }
                let since = stalledSince ?? ContinuousClock.now
                stalledSince = since
                guard accepted, ContinuousClock.now - since < .seconds(10) else { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            pending = retry
        }
        return documents.compactMap { results[$0.reference] }
    }

    static func problemType(_ body: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["type"] as? String
    }

    /// Waits until every document can be read back (each service serves what its projection committed).
    public func waitUntilProjected(
        _ documents: [ResourceDocument], within timeout: Duration = .seconds(20)
    ) async throws {
        for document in documents {
            try await Self.waitFor("\(document.kind.rawValue)/\(document.name) to be projected", within: timeout) {
                try await send(.GET, try url(for: document.kind, name: document.name)).status == 200 ? true : nil
            }
        }
    }

    /// Waits until the edge knows the attestation key, its reply partition and this server workload.
    public func waitUntilEdgeKnows(serverWorkload: String, within timeout: Duration = .seconds(20)) async throws {
        try await Self.waitFor("the edge to know \(serverWorkload) and the attestation key", within: timeout) {
            () -> Bool? in
            let (status, body, _) = try await send(
                .GET, try setting("SIGIL_EDGE_URL") + "/v1/edge/status", tokenSetting: "SIGIL_EDGE_ROLE_TOKEN")
            guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                return nil
            }
            let ready =
                object["attestationKey"] is String && object["replyPartition"] is Int
                && (object["serverWorkloads"] as? [String] ?? []).contains(serverWorkload)
            return ready ? true : nil
        }
    }

    /// Audit records of the token's tenant since a moment (oldest first).
    public func auditRecords(since: Date) async throws -> [[String: Any]] {
        let since = since.addingTimeInterval(-1).formatted(.iso8601)
        let (status, body, _) = try await send(
            .GET, try setting("SIGIL_AUDIT_URL") + "/v1/audit/events?limit=500&since=\(since)")
        guard status == 200, let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            return []
        }
        return object["items"] as? [[String: Any]] ?? []
    }

    /// Polls until `probe` returns a value (errors count as not yet), or fails after the timeout.
    @discardableResult
    public static func waitFor<T>(
        _ what: String, within timeout: Duration = .seconds(20), _ probe: () async throws -> T?
    ) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let value = try? await probe() { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw Failure(description: "timed out waiting for \(what)")
    }
}
