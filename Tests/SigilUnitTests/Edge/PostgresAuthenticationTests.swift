import Foundation
import NIOCore
import Testing

@testable import EdgeProxy

/// The edge's side of PostgreSQL authentication: SCRAM-SHA-256 against RFC 7677's test vector, MD5 against
/// PostgreSQL's formula, and the wire framing's refusals. (Against a real PostgreSQL: `PostgresUpstreamAuthTests`.)
@Suite("PostgreSQL authentication: SCRAM-SHA-256 (RFC 7677), MD5, message framing")
struct PostgresAuthenticationTests {
    @Test("SCRAM-SHA-256 gives RFC 7677's client proof and accepts only its server signature")
    func scramVector() throws {
        var client = SCRAMClient(password: "pencil", user: "user", clientNonce: "rOprNGfwEbeRWgbNEkqO")
        #expect(client.clientFirst == "n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        let final = try client.clientFinal(
            serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        #expect(
            final == "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                + "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        try client.verify(serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        #expect(throws: SCRAMClient.Failure.serverSignature) {
            try client.verify(serverFinal: "v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        }
        #expect(throws: SCRAMClient.Failure.server("invalid-proof")) {
            try client.verify(serverFinal: "e=invalid-proof")
        }
    }

    @Test("a server nonce that does not extend ours, too few or too many iterations, or missing fields are refused")
    func scramRefusals() {
        var client = SCRAMClient(password: "p", clientNonce: "abc")
        #expect(throws: SCRAMClient.Failure.nonceMismatch) {
            try client.clientFinal(serverFirst: "r=xyz123,s=c2FsdA==,i=4096")
        }
        #expect(throws: SCRAMClient.Failure.iterations(1)) {
            try client.clientFinal(serverFirst: "r=abc123,s=c2FsdA==,i=1")
        }
        #expect(throws: SCRAMClient.Failure.iterations(100_000_000)) {
            try client.clientFinal(serverFirst: "r=abc123,s=c2FsdA==,i=100000000")
        }
        #expect(throws: SCRAMClient.Failure.self) { try client.clientFinal(serverFirst: "r=abc123") }
        #expect(throws: SCRAMClient.Failure.self) { try client.verify(serverFinal: "v=x") }
    }

    @Test("MD5 passwords as PostgreSQL computes them; error responses carry SQLSTATE and message; framing is bounded")
    func wire() throws {
        var md5 = PostgresWire.md5Password(user: "alice", password: "secret", salt: [1, 2, 3, 4])
        #expect(md5.readInteger(as: UInt8.self) == UInt8(ascii: "p"))
        #expect(md5.readInteger(as: Int32.self) == Int32(md5.readableBytes + 4))
        #expect(md5.readNullTerminatedString() == "md598a0412b9c31436fc53776e863350083")

        var error = PostgresWire.errorResponse(code: "28000", message: "refused by Sigil: no\0 grant")
        let message = try #require(try PostgresWire.next(&error))
        #expect(message.type == UInt8(ascii: "E"))
        let fields = PostgresWire.fields(message)
        #expect(fields["C"] == "28000" && fields["S"] == "FATAL" && fields["M"] == "refused by Sigil: no grant")

        var partial = ByteBuffer(bytes: [UInt8(ascii: "R"), 0, 0, 0, 12, 0, 0])
        #expect(try PostgresWire.next(&partial) == nil, "not all there yet")
        var huge = ByteBuffer(bytes: [UInt8(ascii: "E"), 0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: PostgresWire.Malformed.self) { try PostgresWire.next(&huge) }
        var short = ByteBuffer(bytes: [UInt8(ascii: "R"), 0, 0, 0, 2])
        #expect(throws: PostgresWire.Malformed.self) { try PostgresWire.next(&short) }
    }
}
