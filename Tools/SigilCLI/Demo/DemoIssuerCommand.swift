import ArgumentParser
import Foundation
import SigilClient

/// `sigil demo issuer`: stands in for a cluster's service-account token issuer and kubelet in the docker-compose
/// demo. It applies the demo's resources (a trust provider holding its public key, the workloads, the protected API,
/// its static API key and the access policy) through the admin API, then keeps a fresh token for the workload in the
/// file its edge reads, as a kubelet rotates a projected token.
struct DemoIssuerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "issuer",
        abstract: "Configure the compose demo and keep the demo workload's token fresh (a kubelet stand-in).",
        discussion: """
            Reads the admin API's address and token like every CLI command (SIGIL_ATTEST_URL, SIGIL_POLICY_URL,
            SIGIL_ISSUE_URL, SIGIL_ADMIN_TOKEN; in docker-compose.yml all URLs are the gateway) and the upstream's key
            from SIGIL_DEMO_API_KEY.
            """
    )

    @Option(help: "The protected API's host name, as the workload calls it.") var upstreamHost = "demo-upstream"
    @Option(help: "The protected API's port.") var upstreamPort = 8080
    @Option(help: "Where the workload's edge reads its token.") var tokenFile = "/var/run/secrets/sigil/token"
    @Option(help: "The workload's namespace and service account.") var namespace = "demo"
    @Option var serviceAccount = "billing"
    @Option(help: "Seconds between new tokens (tokens live 600 s).") var refreshSeconds = 300

    func validate() throws {
        guard (10...590).contains(refreshSeconds) else { throw ValidationError("--refresh-seconds must be 10 to 590") }
    }

    func run() async throws {
        lineBufferedOutput()
        let apiKey = try demoAPIKey()
        let admin = AdminClient()
        let identity = DemoIdentity()
        let documents = try DemoConfiguration.documents(
            identity: identity, upstreamHost: upstreamHost, upstreamPort: upstreamPort, apiKey: apiKey)
        // The services may still be starting: retry (saying why) until the gateway and every owner accept it.
        let deadline = ContinuousClock.now + .seconds(300)
        while true {
            let refusal: String
            do {
                let refused = try await admin.apply(documents).filter(\.refused)
                if refused.isEmpty { break }
                refusal = refused.map { "\($0.document.reference): \($0.detail ?? "")" }.joined(separator: "; ")
            } catch {
                refusal = "\(error)"
            }
            guard ContinuousClock.now < deadline else {
                throw DemoFailure(description: "the demo configuration was not accepted within 300 s: \(refusal)")
            }
            print("not applied yet (\(refusal)); retrying in 2 s")
            try await Task.sleep(for: .seconds(2))
        }
        try await admin.waitUntilProjected(documents)
        print("demo configuration applied: \(documents.map(\.reference).joined(separator: ", "))")
        while !Task.isCancelled {
            let token = try await identity.token(namespace: namespace, serviceAccount: serviceAccount)
            // Atomically (write and rename), readable by the edge's user: a token, no longer-lived secret.
            try token.write(toFile: tokenFile, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: tokenFile)
            print("token for system:serviceaccount:\(namespace):\(serviceAccount) written to \(tokenFile)")
            try await Task.sleep(for: .seconds(refreshSeconds))
        }
    }
}
