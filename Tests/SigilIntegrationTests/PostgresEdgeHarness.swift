import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import PostgresNIO
import SigilClient
import SigilEvents
import Testing

@testable import EdgeProxy

/// The control plane as the database tests want it: one answer for every access request, counted.
final class DatabaseRequester: AccessRequester {
    let requests = NIOLockedValueBox(0)
    let asked = NIOLockedValueBox<[(serverWorkload: String, request: RequestAttributes)]>([])
    /// What every request gets; a test may change it (access withdrawn).
    let answer: NIOLockedValueBox<Result<HeldCredential.Injection, EdgeRefusal>>
    /// The lease the credentials are under, if any.
    let leaseID: String?

    init(answer: Result<HeldCredential.Injection, EdgeRefusal>, leaseID: String? = nil) {
        self.answer = NIOLockedValueBox(answer)
        self.leaseID = leaseID
    }

    func requestCredential(
        for workload: EdgeServerWorkload, request: RequestAttributes, evidence: WorkloadEvidence.Gathered,
        deadline: ContinuousClock.Instant, logger: Logger
    ) async throws(EdgeRefusal) -> HeldCredential {
        let number = requests.withLockedValue {
            $0 += 1
            return $0
        }
        asked.withLockedValue { $0.append((workload.name, request)) }
        switch answer.withLockedValue({ $0 }) {
        case .failure(let refusal): throw refusal
        case .success(let injection):
            return HeldCredential(
                requestID: "request-\(number)", injection: injection, obtainedAt: Date(),
                expiresAt: Date().addingTimeInterval(300), accessPolicy: "orders-policy", leaseID: leaseID)
        }
    }
}

/// An edge's PostgreSQL listener for one server workload `orders-db` (the test PostgreSQL, or another port), with a
/// fake control plane answering `answer`; the role `PostgresEdgeTests.role` exists with its password.
struct DatabaseEdge: Sendable {
    let listeners: PostgresListeners
    let requester: DatabaseRequester
    var credentials: CredentialBroker { listeners.environment.credentials }
    let group: MultiThreadedEventLoopGroup
    let port: Int
    let logger = Logger(label: "test.database-edge")

    static func with(
        answer: Result<HeldCredential.Injection, EdgeRefusal> = .success(
            .postgres(user: PostgresEdgeTests.role, password: PostgresEdgeTests.password)),
        databasePort: Int? = nil, tls: Bool = false, ca: String? = nil, startupTimeout: Duration? = nil,
        listenerTLS: PostgresListenerTLS? = nil, leaseID: String? = nil,
        releaseLease: @escaping @Sendable (String, EdgeRefusal) -> Void = { _, _ in },
        _ body: (DatabaseEdge) async throws -> Void
    ) async throws {
        let url = try #require(URLComponents(string: try TestPostgres.url()))
        try await admin(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '\(PostgresEdgeTests.role)') THEN "
                + "CREATE ROLE \(PostgresEdgeTests.role) LOGIN; END IF; END $$; "
                + "ALTER ROLE \(PostgresEdgeTests.role) PASSWORD '\(PostgresEdgeTests.password)'")
        let logger = Logger(label: "test.database-edge")
        let tokenFile = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-db-\(UUID())").path
        try "token".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let requester = DatabaseRequester(answer: answer, leaseID: leaseID)
        var configuration = EdgeConfiguration(testEdgeID: "edge-db-test")
        if let startupTimeout { configuration.clientIdleTimeout = startupTimeout }
        let credentials = CredentialBroker(
            evidence: WorkloadEvidence(tokenFiles: [tokenFile], logger: logger), requester: requester,
            timeout: configuration.timeout, logger: logger)
        let workload = EdgeServerWorkload(
            name: "orders-db",
            target: AccessTarget(scheme: "postgres", host: "127.0.0.1", port: databasePort ?? url.port ?? 5432),
            tls: tls ? try UpstreamTLS(ca: ca, serverName: nil, host: "127.0.0.1") : nil, listenPort: 0)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var environment = PostgresEnvironment(
            configuration: configuration, credentials: credentials, sessions: PostgresSessions(), logger: logger)
        environment.releaseLease = releaseLease
        environment.listenerTLS = listenerTLS
        let listeners = PostgresListeners(
            environment: environment, serverWorkloads: ServerWorkloadIndex([workload]), group: group)
        await listeners.reconcile()
        let port = try #require(listeners.addresses["orders-db"]?.port, "the listener is open")
        let edge = DatabaseEdge(listeners: listeners, requester: requester, group: group, port: port)
        do {
            try await body(edge)
        } catch {
            await listeners.close()
            try await group.shutdownGracefully()
            throw error
        }
        await listeners.close()
        try await group.shutdownGracefully()
    }

    /// Sends `bytes` to the listener as a raw client; returns everything it answers until it closes (or 5 s pass).
    func raw(_ bytes: [UInt8]) async throws -> [UInt8] {
        let channel = try await ClientBootstrap(group: group)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
            var answer: [UInt8] = []
            for try await chunk in inbound { answer += Array(chunk.readableBytesView) }
            return answer
        }
    }

    /// SQL as the test PostgreSQL's administrator.
    @discardableResult
    static func admin(_ sql: String) async throws -> String {
        let (status, output) = try await ProcessLauncher.runDetached(
            "/usr/bin/psql", [try TestPostgres.url(), "-v", "ON_ERROR_STOP=1", "-At", "-c", sql])
        try #require(status == 0, "psql: \(output)")
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func database() throws -> String {
        String(try #require(URLComponents(string: try TestPostgres.url())).path.dropFirst())
    }

    private func connectionString(
        user: String, database: String? = nil, ssl: String = "sslmode=prefer"
    ) throws
        -> String
    {
        "host=127.0.0.1 port=\(port) user=\(user) dbname=\(try database ?? self.database()) \(ssl) connect_timeout=10"
    }

    /// psql through the edge (never prompting for a password): its exit status and output (stdout and stderr). `ssl`:
    /// the connection string's TLS settings.
    func psql(
        _ sql: String, user: String, database: String? = nil, ssl: String = "sslmode=prefer"
    ) async throws -> (status: Int32, output: String) {
        let (status, output) = try await ProcessLauncher.runDetached(
            "/usr/bin/psql", [try connectionString(user: user, database: database, ssl: ssl), "-w", "-At", "-c", sql])
        return (status, output.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// psql running `sql`, interrupted (SIGINT, as Ctrl-C) after `delay`: what it printed.
    func psqlInterrupted(_ sql: String, after delay: Duration) async throws -> String {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-psql-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let pid = try ProcessLauncher.launch(
            executable: "/usr/bin/psql", arguments: [try connectionString(user: "app"), "-w", "-At", "-c", sql],
            environment: ProcessInfo.processInfo.environment, logFile: log, newSession: false)
        try await Task.sleep(for: delay)
        kill(pid, SIGINT)  // psql sends a CancelRequest on a new connection, with the key it was given
        while ProcessLauncher.isAlive(pid) { try await Task.sleep(for: .milliseconds(50)) }
        return (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }

    /// A postgres-nio connection through the edge, user `app`, no password.
    func withConnection<R: Sendable>(_ body: (PostgresConnection) async throws -> R) async throws -> R {
        let connection = try await PostgresConnection.connect(
            on: group.next(),
            configuration: .init(
                host: "127.0.0.1", port: port, username: "app", password: nil, database: try database(), tls: .disable
            ),
            id: 1, logger: logger)
        do {
            let result = try await body(connection)
            try? await connection.close()
            return result
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// The SQLSTATE of the error `operation` throws.
    func sqlState(_ operation: () async throws -> Void) async throws -> String? {
        do {
            try await operation()
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState]
        }
    }
}
