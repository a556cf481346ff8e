import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import EdgeProxy

/// The edge's PostgreSQL authentication against the real PostgreSQL the test run started (SCRAM-SHA-256 on
/// loopback): the right password reaches `ReadyForQuery` with the server's signature verified; a wrong one gets the
/// server's 28P01.
@Suite("PostgreSQL authentication against a real server")
struct PostgresUpstreamAuthTests {
    struct Outcome {
        var ready = false
        var errorCode: String?
    }

    /// Startup and SCRAM-SHA-256 with `password`, as the edge does it, to the test PostgreSQL.
    func authenticate(password override: String? = nil) async throws -> Outcome {
        let url = try #require(URLComponents(string: try TestPostgres.url()))
        let user = try #require(url.user)
        let password = try #require(override ?? url.password)
        let database = String(url.path.dropFirst())
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: url.host ?? "127.0.0.1", port: url.port ?? 5432) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(
                PostgresWire.startup([("user", user), ("database", database), ("application_name", "sigil-test")]))
            var scram = SCRAMClient(password: password)
            var buffer = ByteBuffer()
            var outcome = Outcome()
            for try await var bytes in inbound {
                buffer.writeBuffer(&bytes)
                while let message = try PostgresWire.next(&buffer) {
                    switch message.type {
                    case UInt8(ascii: "R"):
                        switch try PostgresWire.authentication(message) {
                        case .sasl(let mechanisms):
                            #expect(mechanisms.contains("SCRAM-SHA-256"))
                            try await outbound.write(
                                PostgresWire.saslInitialResponse(mechanism: "SCRAM-SHA-256", scram.clientFirst))
                        case .saslContinue(let serverFirst):
                            try await outbound.write(
                                PostgresWire.saslResponse(try scram.clientFinal(serverFirst: serverFirst)))
                        case .saslFinal(let serverFinal):
                            try scram.verify(serverFinal: serverFinal)
                        case .ok:
                            continue
                        default:
                            Issue.record("unexpected authentication request")
                            return outcome
                        }
                    case UInt8(ascii: "E"):
                        outcome.errorCode = PostgresWire.fields(message)["C"]
                        return outcome
                    case UInt8(ascii: "Z"):
                        outcome.ready = true
                        return outcome
                    default:
                        continue  // ParameterStatus, BackendKeyData
                    }
                }
            }
            return outcome
        }
    }

    @Test("the right password: SCRAM-SHA-256 completes, the server's signature checks, ReadyForQuery")
    func scram() async throws {
        let outcome = try await authenticate()
        #expect(outcome.ready && outcome.errorCode == nil)
    }

    @Test("a wrong password: the server's 28P01, nothing else")
    func wrongPassword() async throws {
        let outcome = try await authenticate(password: "not-the-password")
        #expect(!outcome.ready && outcome.errorCode == "28P01")
    }
}
