import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import PostgresNIO
import SigilClient
import SigilEvents
import Testing

@testable import EdgeProxy

/// The edge's PostgreSQL listener against the real PostgreSQL the test run started: psql and postgres-nio connect with
/// any user name and no password and are logged in as the credential's role; policy refusals, a rejected credential, a
/// database that is down or without TLS each end in an `ErrorResponse` the driver shows; a cancel reaches the right
/// backend; many sessions relay queries at once while some are killed.
@Suite("PostgreSQL through the edge", .serialized)
struct PostgresEdgeTests {
    static let role = "sigil_edge_login"
    static let password = "edge-login-\(UUID().uuidString.prefix(8))"

    @Test("psql and postgres-nio with no password are logged in as the credential's role; refusals are ErrorResponses")
    func logsIn() async throws {
        try await DatabaseEdge.with { edge in
            let psql = try await edge.psql("SELECT current_user, current_setting('application_name')", user: "whoever")
            #expect(psql.status == 0 && psql.output.hasPrefix("\(Self.role)|psql"), "\(psql.output)")
            let asked = edge.requester.asked.withLockedValue { $0 }
            #expect(asked.first?.request.method == "CONNECT")
            #expect(asked.first?.request.path == "/" + (try edge.database()))

            let rows = try await edge.withConnection { connection in
                try await connection.query("SELECT current_user", logger: edge.logger).collect()
            }
            #expect(try rows.first?.decode(String.self) == Self.role)
            // One access request served both connections (the credential is cached like an HTTP one).
            #expect(edge.requester.requests.withLockedValue { $0 } == 1)
        }
        try await DatabaseEdge.with(
            answer: .failure(
                EdgeRefusal(kind: .refused, stage: "policy", code: "no-policy", detail: "no access policy allows it"))
        ) { edge in
            let psql = try await edge.psql("SELECT 1", user: "whoever")
            #expect(psql.status != 0)
            #expect(
                psql.output.contains("sigil: policy refused (no-policy): no access policy allows it"), "\(psql.output)")
            await #expect(throws: PSQLError.self) { try await edge.withConnection { _ in } }
            let code = try await edge.sqlState { try await edge.withConnection { _ in } }
            #expect(code == "28000")
        }
    }

    @Test("a lease's login is for its database: another is refused naming it; the right one logs in")
    func leaseDatabase() async throws {
        let database = try await DatabaseEdge.admin("SELECT current_database()")
        try await DatabaseEdge.with(
            answer: .success(.postgres(user: Self.role, password: Self.password, database: database))
        ) { edge in
            let other = try await edge.psql("SELECT 1", user: "app", database: "postgres")
            #expect(
                other.output.contains("is for database \(database): connect with dbname=\(database)"), "\(other.output)"
            )
            let right = try await edge.psql("SELECT current_database()", user: "app")
            #expect(right.output == database, "\(right.output)")
        }
    }

    @Test("a password the database rejects: asked for again once, then 28000 in Sigil's words")
    func rejectedCredential() async throws {
        try await DatabaseEdge.with(answer: .success(.postgres(user: Self.role, password: "not-it"))) { edge in
            let psql = try await edge.psql("SELECT 1", user: "app")
            #expect(psql.output.contains("the database refused the credential Sigil issued"), "\(psql.output)")
            #expect(!psql.output.contains("not-it"))
            // The rejected credential was dropped and a new one asked for, once (a revoked lease gets a new one).
            #expect(edge.requester.requests.withLockedValue { $0 } == 2)
        }
    }

    @Test("a database that is down, or without TLS under verify-full: 08001 saying so")
    func unreachable() async throws {
        try await DatabaseEdge.with(databasePort: 1) { edge in
            let code = try await edge.sqlState { try await edge.withConnection { _ in } }
            #expect(code == "08001")
            let psql = try await edge.psql("SELECT 1", user: "app")
            #expect(psql.output.contains("sigil: the database cannot be reached"), "\(psql.output)")
        }
        try await DatabaseEdge.with(tls: true) { edge in
            let psql = try await edge.psql("SELECT 1", user: "app")
            #expect(psql.output.contains("does not offer TLS"), "\(psql.output)")
        }
    }

    @Test(
        "sslmode verify-full against the run's PostgreSQL with TLS on: verified, logged in over TLS; another CA refused"
    )
    func verifiedTLS() async throws {
        let pki = try DemoPKI()
        let server = try pki.server()
        let directory = try await DatabaseEdge.admin("SHOW data_directory")
        let owner = try FileManager.default.attributesOfItem(atPath: directory)
        for (name, text) in [("sigil-test-server.pem", server.chainPEM), ("sigil-test-server.key", server.keyPEM)] {
            let path = "\(directory)/\(name)"
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            // PostgreSQL reads its key only if the server's user owns it and nobody else may read it.
            chmod(path, 0o600)
            if let uid = owner[.ownerAccountID] as? NSNumber, let gid = owner[.groupOwnerAccountID] as? NSNumber {
                chown(path, uid_t(uid.uint32Value), gid_t(gid.uint32Value))
            }
        }
        let settings = [
            ("ssl_cert_file", "\(directory)/sigil-test-server.pem"),
            ("ssl_key_file", "\(directory)/sigil-test-server.key"),
            ("ssl", "on"),
        ]
        for (name, value) in settings { try await DatabaseEdge.admin("ALTER SYSTEM SET \(name) = '\(value)'") }
        try await DatabaseEdge.admin("SELECT pg_reload_conf()")
        func reset() async throws {
            for (name, _) in settings { try await DatabaseEdge.admin("ALTER SYSTEM RESET \(name)") }
            try await DatabaseEdge.admin("SELECT pg_reload_conf()")
            try await Task.sleep(for: .milliseconds(500))  // the other tests expect a server without TLS
        }
        do {
            try await Task.sleep(for: .milliseconds(500))
            try await DatabaseEdge.with(tls: true, ca: pki.rootPEM) { edge in
                let answer = try await edge.psql(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", user: "app")
                #expect(answer.output == "t", "the edge's connection to the database is TLS: \(answer.output)")
            }
            try await DatabaseEdge.with(tls: true, ca: try DemoPKI().rootPEM) { edge in
                let answer = try await edge.psql("SELECT 1", user: "app")
                #expect(answer.output.contains("does not chain to a trusted CA"), "\(answer.output)")
            }
        } catch {
            try await reset()
            throw error
        }
        try await reset()
    }

    @Test("hostile first messages: a third SSLRequest, a huge length, no startup at all — each ends with 08P01")
    func hostileStartup() async throws {
        let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
        // A start-up timeout the first two cannot reach, even on a busy machine (they are refused for what they send).
        try await DatabaseEdge.with(startupTimeout: .seconds(30)) { edge in
            let thrice = try await edge.raw(sslRequest + sslRequest + sslRequest)
            #expect(Array(thrice.prefix(2)) == Array("NN".utf8))
            #expect(String(decoding: thrice, as: UTF8.self).contains("08P01"))
            #expect(String(decoding: thrice, as: UTF8.self).contains("asked for encryption more than twice"))
            let huge = try await edge.raw([0x7F, 0xFF, 0xFF, 0xFF, 0, 3, 0, 0])
            #expect(String(decoding: huge, as: UTF8.self).contains("a startup message of 2147483647 bytes"))
            #expect(edge.requester.requests.withLockedValue { $0 } == 0, "nothing was asked of the control plane")
        }
        try await DatabaseEdge.with(startupTimeout: .milliseconds(300)) { edge in
            let started = ContinuousClock.now
            let silent = try await edge.raw([])
            #expect(String(decoding: silent, as: UTF8.self).contains("no startup message within 300 ms"))
            #expect(ContinuousClock.now - started < .seconds(3))
            #expect(edge.requester.requests.withLockedValue { $0 } == 0, "nothing was asked of the control plane")
        }
    }

    @Test("access withdrawn under an open session: asked again, refused, the session ended, its lease released once")
    func releasesWithdrawnLease() async throws {
        let released = NIOLockedValueBox<[(lease: String, code: String)]>([])
        try await DatabaseEdge.with(
            leaseID: "lease-under-test",
            releaseLease: { lease, refusal in released.withLockedValue { $0.append((lease, refusal.code)) } }
        ) { edge in
            try await edge.withConnection { connection in
                _ = try await connection.query("SELECT 1", logger: edge.logger).collect()
                // The control plane does not answer: nothing is ended or released (kept through an outage).
                edge.requester.answer.withLockedValue {
                    $0 = .failure(
                        EdgeRefusal(
                            kind: .unavailable, stage: "edge", code: "control-plane-timeout", detail: "no answer"))
                }
                edge.credentials.cache.revoke(.accessPolicy("orders-policy"))
                edge.listeners.keepCredentialsFresh()
                try await Task.sleep(for: .milliseconds(300))
                #expect(released.withLockedValue { $0.isEmpty })
                #expect(edge.requester.requests.withLockedValue { $0 } == 2, "asked again for the open session")
                _ = try await connection.query("SELECT 1", logger: edge.logger).collect()
                // The policy now refuses: the session ends and the lease it logged in under is released, once.
                edge.requester.answer.withLockedValue {
                    $0 = .failure(
                        EdgeRefusal(kind: .refused, stage: "policy", code: "no-matching-policy", detail: "no policy"))
                }
                try await Task.sleep(for: .seconds(5.1))  // asked at most every 5 s per credential
                edge.listeners.keepCredentialsFresh()
                try await Self.waitFor("the session to be ended") { connection.isClosed }
                let calls = released.withLockedValue { $0 }
                #expect(calls.count == 1, "\(calls)")
                #expect(calls.first?.lease == "lease-under-test" && calls.first?.code == "no-matching-policy")
                #expect(edge.requester.requests.withLockedValue { $0 } == 3)
                #expect(edge.listeners.environment.sessions.count == 0)
            }
        }
    }

    @Test("a postgres-static session (no lease) ends at the edge when its access is withdrawn")
    func endsStaticSessionOnWithdrawal() async throws {
        try await DatabaseEdge.with { edge in
            try await edge.withConnection { connection in
                _ = try await connection.query("SELECT 1", logger: edge.logger).collect()
                edge.requester.answer.withLockedValue {
                    $0 = .failure(
                        EdgeRefusal(kind: .refused, stage: "policy", code: "no-matching-policy", detail: "no policy"))
                }
                edge.credentials.cache.revoke(.accessPolicy("orders-policy"))
                edge.listeners.keepCredentialsFresh()
                try await Self.waitFor("the session to be ended") { connection.isClosed }
                #expect(edge.listeners.environment.sessions.count == 0)
            }
        }
    }

    static func waitFor(_ what: String, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(5)
        while !condition(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(condition(), "timed out waiting for \(what)")
    }

    @Test("a cancel request (psql interrupted) reaches the backend running the query")
    func cancel() async throws {
        try await DatabaseEdge.with { edge in
            let started = ContinuousClock.now
            let output = try await edge.psqlInterrupted("SELECT pg_sleep(30)", after: .seconds(1.5))
            #expect(ContinuousClock.now - started < .seconds(10))
            #expect(output.contains("canceling statement due to user request"), "\(output)")
        }
    }

    @Test("load: 16 sessions x 250 queries relayed at once, two sessions killed by the database midway")
    func load() async throws {
        try await DatabaseEdge.with { edge in
            let failures = NIOLockedValueBox(0)
            let answered = NIOLockedValueBox(0)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for session in 0..<16 {
                    group.addTask {
                        do {
                            try await edge.withConnection { connection in
                                for query in 0..<250 {
                                    let value = session * 1_000 + query
                                    let rows = try await connection.query(
                                        "SELECT \(value)::int, repeat('x', \(query * 8)::int)", logger: edge.logger
                                    ).collect()
                                    guard let row = rows.first, try row.decode((Int, String).self).0 == value else {
                                        Issue.record("a wrong answer for session \(session), query \(query)")
                                        return
                                    }
                                    answered.withLockedValue { $0 += 1 }
                                    if session < 2, query == 100 {
                                        // The database ends this session under the client, as a lease's end would.
                                        _ = try await connection.query(
                                            "SELECT pg_terminate_backend(pg_backend_pid())", logger: edge.logger
                                        ).collect()
                                    }
                                }
                            }
                        } catch {
                            failures.withLockedValue { $0 += 1 }
                            if session >= 2 { Issue.record("session \(session): \(String(reflecting: error))") }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(failures.withLockedValue { $0 } == 2)
            let expected = 14 * 250 + 2 * 101
            #expect(answered.withLockedValue { $0 } == expected)
            // The edge keeps serving after the killed sessions.
            #expect(try await edge.psql("SELECT 42", user: "app").output == "42")
        }
    }
}
