import ArgumentParser
import Foundation
import SigilClient

/// `sigil dev edge`: one more edge beside a running local constellation, presenting its own evidence (a GitHub
/// Actions token, a certificate, a join token, an instance identity document), to try trust provider types without a
/// cluster. Stopped by `sigil dev down` with the rest.
struct DevEdge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Start another edge beside the running constellation, with its own evidence files.",
        discussion: """
            Example: sigil dev edge --name ci --proxy-port 7490 --token-file /tmp/github.jwt
            The edge is ready when this returns; send requests through http://127.0.0.1:<proxy-port>.
            """)

    @OptionGroup var options: DevOptions
    @Option(help: "The edge's id (SIGIL_EDGE_ID): lower-case letters, digits and dashes.") var name: String
    @Option(help: "Its forward proxy's port.") var proxyPort: Int
    @Option(help: "Its admin/health port (default: proxy port + 1000).") var httpPort: Int?
    @Option(help: "A token file to present (repeat for several).") var tokenFile: [String] = []
    @Option(help: "PEM certificate chain, leaf first (with --key).") var certificate: String?
    @Option(help: "The certificate's PEM private key.") var key: String?
    @Option(help: "A join token file (`sigil token create`).") var joinTokenFile: String?
    @Option(help: "An EC2 instance identity document file (with --aws-signature).") var awsDocument: String?
    @Option(help: "Its base64 signature file.") var awsSignature: String?
    @Option(help: "Seconds to wait for it to be ready.") var timeout = 60

    func validate() throws {
        guard name.range(of: "^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$", options: .regularExpression) != nil else {
            throw ValidationError("--name must be lower-case letters, digits and dashes")
        }
        guard (1024...65_535).contains(proxyPort), (1024...65_535).contains(httpPort ?? proxyPort + 1000) else {
            throw ValidationError("--proxy-port and --http-port must be from 1024 to 65535")
        }
        guard (certificate == nil) == (key == nil) else {
            throw ValidationError("give --certificate and --key together")
        }
        guard (awsDocument == nil) == (awsSignature == nil) else {
            throw ValidationError("give --aws-document and --aws-signature together")
        }
        guard !tokenFile.isEmpty || certificate != nil || joinTokenFile != nil || awsDocument != nil else {
            throw ValidationError(
                "give evidence: --token-file, --certificate/--key, --join-token-file or --aws-document")
        }
    }

    func run() async throws {
        let state = DevState(directory: options.stateDirectory)
        guard var processes = state.loadProcesses(),
            processes.processes.contains(where: { $0.name == "sigil-edge" && ProcessLauncher.isAlive($0.pid) })
        else {
            throw ValidationError(
                "no constellation with an edge runs from \(state.directory); run `sigil dev up` first")
        }
        let processName = "sigil-edge-\(name)"
        guard !processes.processes.contains(where: { $0.name == processName && ProcessLauncher.isAlive($0.pid) }) else {
            throw ValidationError("an edge named \(name) already runs")
        }
        var environment = AdminClient.readEnvFile(state.edgeEnvFile)
        guard !environment.isEmpty else {
            throw ValidationError("\(state.edgeEnvFile) is missing: restart with `sigil dev up`")
        }
        for variable in [
            "SIGIL_EDGE_TOKEN_FILE", "SIGIL_EDGE_CERTIFICATE_FILE", "SIGIL_EDGE_KEY_FILE", "SIGIL_EDGE_JOIN_TOKEN_FILE",
            "SIGIL_EDGE_AWS_IDENTITY_DOCUMENT_FILE", "SIGIL_EDGE_AWS_IDENTITY_SIGNATURE_FILE",
        ] {
            environment[variable] = nil
        }
        func absolute(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let port = httpPort ?? proxyPort + 1000
        environment["SIGIL_EDGE_ID"] = name
        environment["SIGIL_INSTANCE_ID"] = name
        environment["SIGIL_HTTP_PORT"] = String(port)
        environment["SIGIL_EDGE_PROXY_PORT"] = String(proxyPort)
        // Database listeners too get ports of their own: listenPort + (proxy port - 7480).
        environment["SIGIL_EDGE_DATABASE_PORT_OFFSET"] = String(max(0, proxyPort - 7480))
        if !tokenFile.isEmpty { environment["SIGIL_EDGE_TOKEN_FILE"] = tokenFile.map(absolute).joined(separator: ",") }
        environment["SIGIL_EDGE_CERTIFICATE_FILE"] = certificate.map(absolute)
        environment["SIGIL_EDGE_KEY_FILE"] = key.map(absolute)
        environment["SIGIL_EDGE_JOIN_TOKEN_FILE"] = joinTokenFile.map(absolute)
        environment["SIGIL_EDGE_AWS_IDENTITY_DOCUMENT_FILE"] = awsDocument.map(absolute)
        environment["SIGIL_EDGE_AWS_IDENTITY_SIGNATURE_FILE"] = awsSignature.map(absolute)
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"]
        let logFile = "\(state.logDirectory)/\(processName).log"
        let executable = "\(ProcessLauncher.executableDirectory)/sigil-edge"
        let pid = try ProcessLauncher.launch(
            executable: executable, arguments: [], environment: environment, logFile: logFile)
        let process = DevState.ManagedProcess(
            name: processName, pid: pid, port: port, logFile: logFile, instance: name, proxyPort: proxyPort,
            executable: executable, settingsFile: try state.saveSettings(of: processName, environment))
        processes.processes.append(process)
        try state.save(processes)
        try await ReadinessProbe.waitUntilReady(process, timeout: timeout)
        print("\(processName) ready: proxy http://127.0.0.1:\(proxyPort), status on 127.0.0.1:\(port)")
    }
}
