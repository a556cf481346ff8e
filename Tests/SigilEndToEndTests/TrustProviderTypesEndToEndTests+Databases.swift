import Foundation
import SigilClient
import SigilTestSupport
import Testing

/// The trust-provider suite's database step, on the constellation's own PostgreSQL: the deployer's edge listens for a
/// `postgres` server workload; psql connects with no password and is logged in as a role sigil-issue made for its
/// lease (`postgres-dynamic`); a session outlives the lease's renewals; `sigil lease revoke` ends the open session
/// (the client sees the connection closed, no backend of the role is left, the role is gone); after the access policy
/// goes, the edge releases the lease and it ends with its session (`access-withdrawn`); sigil-issue killed with
/// SIGKILL and restarted mid-lease, the lease still ends at its expiry; `postgres-static` logs in as a stored role.
extension TrustProviderTypesEndToEndTests {
    func databases(_ constellation: LocalConstellation) async throws {
        let admin = constellation.admin
        let url = try #require(constellation.settings["SIGIL_POSTGRES_URL"])
        let database = try #require(URLComponents(string: url))
        let name = String(database.path.dropFirst())
        let adminPassword = "e2e-admin-" + UUID().uuidString
        let staticPassword = "e2e-static-" + UUID().uuidString
        _ = try constellation.psql(
            """
            CREATE ROLE e2e_lease_admin LOGIN CREATEROLE PASSWORD '\(adminPassword)';
            CREATE ROLE e2e_orders_reader; CREATE TABLE e2e_orders (id int); INSERT INTO e2e_orders VALUES (1), (2), (3);
            GRANT SELECT ON e2e_orders TO e2e_orders_reader;
            CREATE ROLE e2e_orders_static LOGIN PASSWORD '\(staticPassword)'; GRANT e2e_orders_reader TO e2e_orders_static;
            """)
        // The deployer's edge (proxy :7490, `sigil dev edge`) listens at listenPort + 10.
        let listenPort = 15_432
        // One server workload per database server (host and port): the static one names it `localhost`.
        func route(_ server: String, listen: Int, provider: String, host: String = "127.0.0.1") -> [ResourceDocument] {
            [
                .init(
                    kind: .serverWorkload, name: server,
                    spec: [
                        "scheme": "postgres", "host": .string(host), "port": .number(Double(database.port ?? 5432)),
                        "listenPort": .number(Double(listen)), "sslmode": "disable",
                    ]),
                .init(
                    kind: .accessPolicy, name: "deployer-\(server)",
                    spec: [
                        "clientWorkload": "deployer", "serverWorkload": .string(server), "trustProvider": "github",
                        "credentialProvider": .string(provider),
                    ]),
            ]
        }
        let applied = try await admin.apply(
            [
                .init(
                    kind: .credentialProvider, name: "orders-lease",
                    spec: [
                        "type": "postgres-dynamic", "host": "127.0.0.1", "port": .number(Double(database.port ?? 5432)),
                        "database": .string(name), "sslmode": "disable", "adminUser": "e2e_lease_admin",
                        "adminPassword": .string(adminPassword), "ttlSeconds": 10,
                        "grants": ["roles": ["e2e_orders_reader"]],
                    ]),
                .init(
                    kind: .credentialProvider, name: "orders-static",
                    spec: [
                        "type": "postgres-static", "user": "e2e_orders_static", "password": .string(staticPassword),
                    ]),
            ] + route("orders-db", listen: listenPort, provider: "orders-lease")
                + route("orders-db-static", listen: listenPort + 100, provider: "orders-static", host: "localhost"))
        #expect(applied.allSatisfy { $0.change != nil }, "\(applied.map { $0.detail ?? "" })")
        func psql(_ listen: Int, _ sql: String...) async throws -> (status: Int32, output: String) {
            try await ProcessLauncher.runDetached(
                "/usr/bin/psql",
                ["host=127.0.0.1 port=\(listen + 10) user=deployer dbname=\(name) connect_timeout=10", "-w", "-At"]
                    + sql.flatMap { ["-c", $0] })
        }

        // No password: logged in as the lease's role, a member of what the grants name.
        let first = try await AdminClient.waitFor("the edge to serve the database", within: .seconds(30)) {
            let answer = try await psql(listenPort, "SELECT current_user, count(*) FROM e2e_orders")
            return answer.status == 0 ? answer.output : nil
        }
        #expect(first.hasPrefix("sigil_") && first.hasSuffix("|3\n"), "\(first)")
        let role = String(first.prefix { $0 != "|" })
        // Its listener opens when its server workload's record is read (the records of one apply may come apart).
        let staticAnswer = try await AdminClient.waitFor("the static listener", within: .seconds(30)) {
            let answer = try await psql(listenPort + 100, "SELECT current_user, count(*) FROM e2e_orders")
            return answer.status == 0 ? answer.output : nil
        }
        #expect(staticAnswer == "e2e_orders_static|3\n", "\(staticAnswer)")

        // One session across two renewals (the lease lasts 10 s; the edge renews it at 8 s while the session is open).
        let long = try await psql(
            listenPort, "SELECT current_user", "SELECT pg_sleep(9)", "SELECT pg_sleep(9)",
            "SELECT count(*) FROM e2e_orders")
        #expect(long.status == 0 && long.output.hasSuffix("3\n"), "\(long.status): \(long.output)")
        #expect(long.output.hasPrefix(role), "the session kept its role: \(long.output)")
        let (_, listing) = try await constellation.sigil(["lease", "list"])
        let leaseID = try #require(
            listing.split(separator: "\n").first { $0.contains(role) }?.split(separator: "\t").first.map(String.init),
            "\(listing)")

        // Revoked: the open session ends within seconds, no backend of the role is left, the role is gone.
        let session = try startSession(listenPort, name: name, sql: "SELECT pg_sleep(60)")
        try await Task.sleep(for: .seconds(1.5))
        let (revokeStatus, revoked) = try await constellation.sigil(["lease", "revoke", leaseID])
        #expect(revokeStatus == 0 && revoked.contains("1 session(s) terminated"), "\(revoked)")
        let ended = try await session.finished(within: .seconds(10))
        #expect(ended.contains("terminating connection due to administrator command"), "\(ended)")
        #expect(try constellation.psql("SELECT count(*) FROM pg_stat_activity WHERE usename = '\(role)'") == "0")
        #expect(try constellation.psql("SELECT count(*) FROM pg_roles WHERE rolname = '\(role)'") == "0")
        // The edge read the LeaseRevoked on its reply partition and dropped the lease's credential.
        _ = try await AdminClient.waitFor("the edge to drop the revoked lease's credential", within: .seconds(10)) {
            constellation.logText.split(separator: "\n").contains {
                $0.contains("credentials revoked") && $0.contains(leaseID)
            } ? true : nil
        }

        // sigil-issue killed with SIGKILL mid-lease and started again (`sigil dev restart`): a lease nobody renews
        // still ends at its expiry, ended by the new process.
        let unused = try await AdminClient.waitFor("a lease after the revocation", within: .seconds(20)) {
            let answer = try await psql(listenPort, "SELECT current_user")
            return answer.status == 0 ? answer.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        #expect(kill(try constellation.pid(of: "sigil-issue"), SIGKILL) == 0)
        let restarted = try await constellation.sigil(
            ["dev", "restart", "sigil-issue", "--state-directory", constellation.stateDirectory])
        #expect(restarted.status == 0, "\(restarted.output)")
        _ = try await AdminClient.waitFor("the unused lease to end at its expiry", within: .seconds(30)) {
            try constellation.psql("SELECT count(*) FROM pg_roles WHERE rolname = '\(unused)'") == "0" ? true : nil
        }
        let onTime = try constellation.psql(
            """
            SELECT revoke_reason, extract(epoch FROM revoked_at - expires_at) BETWEEN 0 AND 5 FROM issue.leases
            WHERE role = '\(unused)'
            """)
        #expect(onTime == "expired|t", "\(onTime)")

        // The policy goes: the edge, refused when it asks again for the session in use, releases the lease, and
        // sigil-issue ends it and the session at once (access-withdrawn), not at its expiry.
        let renewed = try await AdminClient.waitFor("a new lease", within: .seconds(40)) {
            let answer = try await psql(listenPort, "SELECT current_user")
            return answer.status == 0 ? answer.output.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        #expect(renewed != role && renewed.hasPrefix("sigil_"))
        let doomed = try startSession(listenPort, name: name, sql: "SELECT pg_sleep(60)")
        try await Task.sleep(for: .seconds(1))
        let removed = try await admin.delete(route("orders-db", listen: listenPort, provider: "orders-lease").suffix(1))
        #expect(removed.allSatisfy { $0.change == "deleted" }, "\(removed.map { $0.detail ?? "" })")
        // Ended by the edge (it closes the sessions whose access it was refused) or by sigil-issue's revocation,
        // whichever comes first.
        let withdrawn = try await doomed.finished(within: .seconds(25))
        #expect(
            withdrawn.contains("terminating connection") || withdrawn.contains("server closed the connection"),
            "\(withdrawn)")
        // The edge may close the session before sigil-issue has read its release: the lease shows it within seconds.
        var all = ""
        let released = try? await AdminClient.waitFor("the lease released by the edge", within: .seconds(15)) {
            all = try await constellation.sigil(["lease", "list", "--all"]).1
            let line = all.split(separator: "\n").first { $0.contains(renewed) }.map(String.init) ?? ""
            return line.contains("access-withdrawn by edge ") ? line : nil
        }
        #expect(released != nil, "\(all)")
        let dropped = try? await AdminClient.waitFor("the lease's role dropped", within: .seconds(15)) {
            try constellation.psql("SELECT count(*) FROM pg_roles WHERE rolname = '\(renewed)'") == "0" ? true : nil
        }
        #expect(dropped == true)
    }

    /// psql running `sql` through the deployer edge's listener for `port` (its offset is 10), left running.
    func startSession(_ port: Int, name: String, sql: String) throws -> RunningProcess {
        try RunningProcess(
            "/usr/bin/psql",
            [
                "host=127.0.0.1 port=\(port + 10) user=deployer dbname=\(name) connect_timeout=10", "-w", "-At", "-c",
                sql,
            ])
    }
}

/// A process started and left running, its output in a file.
struct RunningProcess {
    let pid: Int32
    let log: String

    init(_ executable: String, _ arguments: [String]) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-process-\(UUID())").path
        pid = try ProcessLauncher.launch(
            executable: executable, arguments: arguments, environment: ProcessInfo.processInfo.environment,
            logFile: log, newSession: false)
    }

    /// Its output, once it has exited (within `limit`, else it is killed and the test fails).
    func finished(within limit: Duration) async throws -> String {
        let deadline = ContinuousClock.now + limit
        while ProcessLauncher.isAlive(pid), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let alive = ProcessLauncher.isAlive(pid)
        if alive { kill(pid, SIGKILL) }
        #expect(!alive, "still running after \(limit)")
        defer { try? FileManager.default.removeItem(atPath: log) }
        return (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    }
}
