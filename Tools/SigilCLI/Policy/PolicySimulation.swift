import ArgumentParser
import Foundation
import SigilClient
import SigilEvents
import SigilPolicy
import SigilService

/// `sigil policy simulate`: the access requests the audit log recorded, decided again by the current and by a
/// proposed set of access policies and server workloads; every decision that would change, grouped.
struct PolicySimulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay recorded access requests against the current and proposed policies; show what would change.",
        discussion: """
            The proposal is AccessPolicy and ServerWorkload documents (new ones, or new versions of existing ones),
            checked by the policy service's admission without being applied (a dry run); --remove NAME takes an
            access policy out. Each request is decided at the moment it was recorded.
            Example: sigil policy simulate -f proposed.yaml --since 24h
            """)

    @Option(name: .shortAndLong, help: "The proposed documents (YAML or JSON).") var file: String?
    @Option(help: "An access policy the proposal removes (repeat for several).") var remove: [String] = []
    @Option(help: "How far back: 90m, 24h, 7d (default 24h).") var since = "24h"
    @Option(help: "Examples shown per group.") var limit = 20
    @Option(name: [.short, .customLong("output")], help: "text or json.") var output = "text"

    func validate() throws {
        guard file != nil || !remove.isEmpty else { throw ValidationError("give -f FILE and/or --remove NAME") }
        guard ["text", "json"].contains(output) else { throw ValidationError("--output must be text or json") }
    }

    func run() async throws {
        let admin = AdminClient()
        let sinceDate = Date().addingTimeInterval(-Double(try DurationOption.seconds(since, maximumDays: 366)))
        let currentServers: [Resource<ServerWorkloadSpec>] = try await Self.list(.serverWorkload, admin)
        let currentPolicies: [Resource<AccessPolicySpec>] = try await Self.list(.accessPolicy, admin)
        guard let tenant = (currentServers.first?.metadata.tenant ?? currentPolicies.first?.metadata.tenant) else {
            throw AdminClient.Failure(description: "the tenant has no server workloads or access policies to compare")
        }
        var proposedServers = Dictionary(uniqueKeysWithValues: currentServers.map { ($0.name, $0) })
        var proposedPolicies = Dictionary(uniqueKeysWithValues: currentPolicies.map { ($0.name, $0) })
        for name in remove {
            guard proposedPolicies.removeValue(forKey: name) != nil else {
                throw ValidationError("--remove \(name): no AccessPolicy of that name")
            }
        }
        if let file {
            let text = try String(contentsOfFile: file, encoding: .utf8)
            let documents = try ResourceDocument.parse(text, file: file)
            // Admitted by the policy service as a dry run: the same checks, the stored form, nothing written.
            let assumed = documents.map(\.reference).joined(separator: ", ")
            for document in documents {
                guard document.kind == .accessPolicy || document.kind == .serverWorkload else {
                    throw ValidationError(
                        "\(document.reference): simulate takes AccessPolicy and ServerWorkload documents")
                }
                let (status, body, _) = try await admin.send(
                    .PUT, try admin.url(for: document.kind, name: document.name) + "?dryRun=true",
                    body: try EventJSON.encoder.encode(document.document), headers: [("Sigil-Dry-Run-Set", assumed)])
                guard (200..<300).contains(status) else {
                    throw AdminClient.Failure(
                        description: "\(document.reference) refused (\(status)): \(AdminClient.describe(body))")
                }
                if document.kind == .accessPolicy {
                    proposedPolicies[document.name] = try EventJSON.decoder.decode(
                        Resource<AccessPolicySpec>.self, from: body)
                } else {
                    proposedServers[document.name] = try EventJSON.decoder.decode(
                        Resource<ServerWorkloadSpec>.self, from: body)
                }
            }
        }
        let requests = try await Self.recordedRequests(since: sinceDate, admin)
        func engine(_ servers: [Resource<ServerWorkloadSpec>], _ policies: [Resource<AccessPolicySpec>]) -> PolicyEngine
        {
            let serverIndex = ResourceIndex<ServerWorkloadSpec>()
            serverIndex.replace(with: servers)
            let policyIndex = ResourceIndex<AccessPolicySpec>()
            policyIndex.replace(with: policies)
            return PolicyEngine(servers: serverIndex, policies: policyIndex)
        }
        let report = PolicySimulator(
            current: engine(currentServers, currentPolicies),
            proposed: engine(Array(proposedServers.values), Array(proposedPolicies.values)), tenant: tenant
        ).replay(requests)
        print(
            output == "json"
                ? try Self.json(report, since: sinceDate) : Self.text(report, since: sinceDate, limit: limit))
    }

    static func list<Spec: ResourceSpec>(_ kind: ResourceKind, _ admin: AdminClient) async throws -> [Resource<Spec>] {
        try await admin.list(kind).map { try $0.decode(Resource<Spec>.self) }
    }

    /// Every attested access request the audit log holds since `since` (the `IdentityAttested` records).
    static func recordedRequests(
        since: Date, _ admin: AdminClient
    ) async throws -> [PolicySimulator.RecordedRequest] {
        var requests: [PolicySimulator.RecordedRequest] = []
        var cursor: String?
        repeat {
            var components = URLComponents()
            components.queryItems =
                [
                    URLQueryItem(name: "outcome", value: "attested"), URLQueryItem(name: "limit", value: "500"),
                    URLQueryItem(name: "since", value: since.formatted(.iso8601)),
                ] + (cursor.map { [URLQueryItem(name: "cursor", value: $0)] } ?? [])
            let (status, body, _) = try await admin.send(
                .GET, try admin.setting("SIGIL_AUDIT_URL") + "/v1/audit/events?\(components.percentEncodedQuery ?? "")")
            guard status == 200, let page = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw AdminClient.Failure(description: "audit query failed (\(status)): \(AdminClient.describe(body))")
            }
            let items = page["items"] as? [[String: Any]] ?? []
            for record in items {
                cursor = record["cursor"] as? String ?? cursor
                guard let data = record["data"] as? [String: Any], let client = data["clientWorkload"] as? String,
                    let target = data["target"] as? [String: Any], let scheme = target["scheme"] as? String,
                    let host = target["host"] as? String, let port = target["port"] as? Int,
                    let timeText = record["time"] as? String,
                    let time = CloudEvent.parseTime(timeText)
                else { continue }
                let providers =
                    data["trustProviders"] as? [String] ?? (data["trustProvider"] as? String).map { [$0] } ?? []
                let attributes = (data["request"] as? [String: Any]).flatMap { request in
                    (try? JSONSerialization.data(withJSONObject: request)).flatMap {
                        try? JSONDecoder().decode(RequestAttributes.self, from: $0)
                    }
                }
                requests.append(
                    PolicySimulator.RecordedRequest(
                        time: time, clientWorkload: client,
                        target: AccessTarget(scheme: scheme, host: host, port: port),
                        trustProviders: providers, request: attributes,
                        claims: data["claims"] as? [String: String] ?? [:]))
            }
            if items.count < 500 { break }
        } while true
        return requests
    }

    static func text(_ report: PolicySimulator.Report, since: Date, limit: Int) -> String {
        var lines = [
            "replayed \(report.replayed) access requests recorded since \(since.formatted(.iso8601)) against the current "
                + "and the proposed policies",
            "unchanged: \(report.unchanged)",
        ]
        for change in PolicySimulator.Change.allCases {
            let groups = report.groups.filter { $0.change == change }
            lines.append("\(change.rawValue): \(report.count(change))")
            for group in groups.prefix(limit) {
                lines.append(
                    "  \(group.clientWorkload) -> \(group.target.scheme)://\(group.target.host):\(group.target.port) "
                        + "(\(group.count)×, first \(group.first.formatted(.iso8601))): was \(group.before), would be "
                        + "\(group.after)")
            }
            if groups.count > limit { lines.append("  … and \(groups.count - limit) more groups") }
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: PolicySimulator.Report, since: Date) throws -> String {
        let groups: [[String: Any]] = report.groups.map { group in
            [
                "change": group.change.rawValue, "clientWorkload": group.clientWorkload,
                "target": "\(group.target.scheme)://\(group.target.host):\(group.target.port)", "count": group.count,
                "first": group.first.formatted(.iso8601), "before": group.before.description,
                "after": group.after.description,
            ]
        }
        let object: [String: Any] = [
            "since": since.formatted(.iso8601), "replayed": report.replayed, "unchanged": report.unchanged,
            "newlyDenied": report.count(.newlyDenied), "newlyAllowed": report.count(.newlyAllowed),
            "differentCredential": report.count(.differentCredential), "groups": groups,
        ]
        return String(
            decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
