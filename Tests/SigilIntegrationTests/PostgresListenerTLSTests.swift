import Foundation
import Logging
import SigilClient
import SigilService
import Testing

@testable import EdgeProxy

/// The edge's PostgreSQL listener with the edge's own certificate (`SIGIL_EDGE_DATABASE_TLS_CERTIFICATE_FILE`): psql
/// with `sslmode=verify-full` logs in over TLS and knows it reached its edge; a workload trusting another CA, a
/// plaintext startup and bytes smuggled ahead of the handshake are refused; a rotated certificate is taken without a
/// restart, and a pair that does not load leaves the one before in use. Nested in `PostgresEdgeTests`, so it runs in
/// their series (they share the login role).
extension PostgresEdgeTests {
    @Suite("TLS on the workload's side")
    struct ListenerTLS {
        /// Files in a directory of the test's own: the edge's certificate chain and key, and CAs a workload may trust.
        struct Files {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "sigil-listener-tls-\(UUID())")
            var certificate: String { directory.appendingPathComponent("edge.pem").path }
            var key: String { directory.appendingPathComponent("edge.key").path }

            init() throws {
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            }

            /// Writes a certificate for 127.0.0.1 from `pki` as the edge's; returns the path of `pki`'s root for psql.
            @discardableResult
            func issue(from pki: DemoPKI, name: String) throws -> String {
                let server = try pki.server()
                try server.chainPEM.write(toFile: certificate, atomically: true, encoding: .utf8)
                try server.keyPEM.write(toFile: key, atomically: true, encoding: .utf8)
                return try trust(pki, name: name)
            }

            /// `pki`'s root as a file psql's `sslrootcert` names.
            func trust(_ pki: DemoPKI, name: String) throws -> String {
                let path = directory.appendingPathComponent("\(name).pem").path
                try pki.rootPEM.write(toFile: path, atomically: true, encoding: .utf8)
                return path
            }

            func remove() { try? FileManager.default.removeItem(at: directory) }
        }

        static func verifyFull(_ ca: String) -> String { "sslmode=verify-full sslrootcert=\(ca)" }

        @Test(
            "psql verify-full logs in over TLS with the edge's certificate; another CA, plaintext, smuggled bytes refused"
        )
        func verifiedByWorkload() async throws {
            let files = try Files()
            defer { files.remove() }
            let ca = try files.issue(from: try DemoPKI(), name: "edge-ca")
            let otherCA = try files.trust(try DemoPKI(), name: "other-ca")
            let tls = try PostgresListenerTLS(certificateFile: files.certificate, keyFile: files.key)
            try await DatabaseEdge.with(startupTimeout: .seconds(30), listenerTLS: tls) { edge in
                let verified = try await edge.psql("SELECT current_user", user: "app", ssl: Self.verifyFull(ca))
                #expect(verified.status == 0 && verified.output == PostgresEdgeTests.role, "\(verified.output)")
                let info = try await edge.psql("\\conninfo", user: "app", ssl: Self.verifyFull(ca))
                #expect(info.output.contains("SSL connection (protocol: TLSv1."), "\(info.output)")

                let untrusted = try await edge.psql("SELECT 1", user: "app", ssl: Self.verifyFull(otherCA))
                // The other CA has the same name; its key does not verify the edge's chain.
                #expect(untrusted.status != 0 && untrusted.output.contains("SSL error"), "\(untrusted.output)")

                let plain = try await edge.psql("SELECT 1", user: "app", ssl: "sslmode=disable")
                #expect(plain.status != 0)
                #expect(plain.output.contains("require TLS: connect with sslmode=require"), "\(plain.output)")

                // A startup message sent with the SSLRequest, before the answer: it would pass for one sent over TLS.
                let sslRequest: [UInt8] = [0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F]
                let parameters = Array("user\0app\0\0".utf8)
                let startup: [UInt8] = [0, 0, 0, UInt8(8 + parameters.count), 0, 3, 0, 0] + parameters
                let smuggled = try await edge.raw(sslRequest + startup)
                let said = String(decoding: smuggled, as: UTF8.self)
                #expect(smuggled.first != UInt8(ascii: "S"), "no TLS was started")
                #expect(said.contains("08P01") && said.contains("bytes after its SSLRequest"), "\(said)")

                // Only the verified sessions asked the control plane (one credential, cached for the second psql).
                #expect(edge.requester.requests.withLockedValue { $0 } == 1)
            }
        }

        @Test("a rotated certificate reaches new connections without a restart; a pair that does not load is not taken")
        func rotates() async throws {
            let files = try Files()
            defer { files.remove() }
            let logger = Logger(label: "test.listener-tls")
            let first = try files.issue(from: try DemoPKI(), name: "first")
            let tls = try PostgresListenerTLS(certificateFile: files.certificate, keyFile: files.key)
            #expect(!tls.reloadIfChanged(logger: logger), "nothing changed")
            try await DatabaseEdge.with(listenerTLS: tls) { edge in
                #expect(try await edge.psql("SELECT 1", user: "app", ssl: Self.verifyFull(first)).output == "1")

                // A key that is not the certificate's (a rotation caught between its two files): the old pair stays.
                let stray = try DemoPKI().server()
                try stray.keyPEM.write(toFile: files.key, atomically: true, encoding: .utf8)
                #expect(!tls.reloadIfChanged(logger: logger))
                #expect(try await edge.psql("SELECT 1", user: "app", ssl: Self.verifyFull(first)).output == "1")

                let second = try files.issue(from: try DemoPKI(), name: "second")
                #expect(tls.reloadIfChanged(logger: logger))
                #expect(try await edge.psql("SELECT 1", user: "app", ssl: Self.verifyFull(second)).output == "1")
                let old = try await edge.psql("SELECT 1", user: "app", ssl: Self.verifyFull(first))
                #expect(old.status != 0 && old.output.contains("SSL error"), "\(old.output)")
            }
            // Files that do not load stop the edge at start, naming the setting.
            #expect(throws: ConfigurationError.self) {
                _ = try PostgresListenerTLS(
                    certificateFile: files.directory.appendingPathComponent("none").path, keyFile: files.key)
            }
        }
    }
}
