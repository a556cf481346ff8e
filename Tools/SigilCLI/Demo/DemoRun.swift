import ArgumentParser
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SigilClient
import SigilEvents

/// `sigil demo` (`sigil demo run`): one real secretless access flow through the running constellation. A workload holding no secret
/// calls a protected API through the edge and gets in; another workload is refused; the audit trail of both is
/// printed. Exits 0 only if all of that happened.
struct DemoRun: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a granted and a denied access flow through the running constellation and print the audit trail."
    )

    func run() async throws {
        let admin = AdminClient()
        let tokenFile = try admin.setting("SIGIL_EDGE_TOKEN_FILE")
        let proxy = try URLComponents(string: admin.setting("SIGIL_EDGE_PROXY"))
        guard let proxyHost = proxy?.host, let proxyPort = proxy?.port else {
            throw DemoFailure(description: "SIGIL_EDGE_PROXY must be http://host:port")
        }
        let started = Date()

        let upstream = DemoUpstream(apiKey: "demo_" + DevSecret.generate(bytes: 24))
        let group = ServiceGroup(
            configuration: .init(services: [upstream.application()], logger: Logger(label: "sigil.demo")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            defer { Task { await group.triggerGracefulShutdown() } }
            let port = try await AdminClient.waitFor("the demo upstream to listen") { upstream.port }
            step("demo upstream API at http://127.0.0.1:\(port)/reports (answers 200 only with its API key)")

            let identity = DemoIdentity()
            try await applyConfiguration(identity: identity, upstream: upstream, port: port, admin: admin)
            try await admin.waitUntilEdgeKnows(serverWorkload: DemoConfiguration.serverWorkload)

            try await flows(
                proxy: (proxyHost, proxyPort), identity: identity, upstream: upstream, port: port, tokenFile: tokenFile)

            step("audit trail (sigil-audit, hash-chained per tenant and partition)")
            let trail = try await AdminClient.waitFor("the audit log to record both decisions") {
                let records = try await admin.auditRecords(since: started)
                let outcomes = Set(records.compactMap { $0["outcome"] as? String })
                return outcomes.isSuperset(of: ["requested", "attested", "granted", "issued", "denied", "refused"])
                    ? records : nil
            }
            for record in trail where record["outcome"] != nil {
                let outcome = record["outcome"] as? String ?? ""
                let type = (record["type"] as? String ?? "").replacingOccurrences(of: "dev.sigil.", with: "")
                let workload = record["clientWorkload"] as? String ?? ""
                let reason = ((record["data"] as? [String: Any])?["reason"] as? [String: Any])?["code"] as? String ?? ""
                print(
                    "    #\(record["sequence"] ?? "?")  \(type.padding(toLength: 30, withPad: " ", startingAt: 0)) \(outcome.padding(toLength: 10, withPad: " ", startingAt: 0)) \(workload) \(reason)"
                )
            }
            print(
                "\nDemo succeeded: the allowed workload reached the API without holding its key; the other was refused by policy."
            )
        }
    }

    /// The allowed workload gets in without holding the key; the other is refused by policy.
    private func flows(
        proxy: (host: String, port: Int), identity: DemoIdentity, upstream: DemoUpstream, port: Int, tokenFile: String
    ) async throws {
        step("workload 'billing' (namespace demo) calls the API through the edge, holding no API key")
        try await identity.present(namespace: "demo", serviceAccount: "billing", tokenFile: tokenFile)
        let granted = try await ForwardProxyRequest.get(
            "http://127.0.0.1:\(port)/reports", proxyHost: proxy.host, proxyPort: proxy.port)
        print("    \(granted.status) \(granted.body.trimmingCharacters(in: .whitespacesAndNewlines))")
        guard granted.status == 200, upstream.authorized == 1 else {
            throw DemoFailure(
                description: "the granted request did not reach the upstream with its key (status \(granted.status))")
        }

        step("workload 'reporting' (same namespace, no access policy) makes the same call")
        try await identity.present(namespace: "demo", serviceAccount: "reporting", tokenFile: tokenFile)
        let denied = try await ForwardProxyRequest.get(
            "http://127.0.0.1:\(port)/reports", proxyHost: proxy.host, proxyPort: proxy.port)
        print("    \(denied.status) \(denied.body.trimmingCharacters(in: .whitespacesAndNewlines))")
        guard denied.status == 403, denied.body.contains("no-matching-policy"), upstream.authorized == 1 else {
            throw DemoFailure(description: "the second workload was not refused by policy (status \(denied.status))")
        }
    }

    private func applyConfiguration(
        identity: DemoIdentity, upstream: DemoUpstream, port: Int, admin: AdminClient
    ) async throws {
        step("applying the demo configuration")
        let documents = try DemoConfiguration.documents(identity: identity, upstreamPort: port, apiKey: upstream.apiKey)
        try await ApplyCommand.apply(documents, client: admin)
        try await admin.waitUntilProjected(documents)
    }

    private func step(_ text: String) { print("==> \(text)") }
}
