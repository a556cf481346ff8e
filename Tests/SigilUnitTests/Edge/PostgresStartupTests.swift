import NIOCore
import Testing

@testable import EdgeProxy

/// The first message a workload sends the edge's PostgreSQL listener: each kind read, and what an attacker might send
/// (sizes, unterminated strings, repeated parameters, other protocols) refused without reading past the message.
@Suite("PostgreSQL listener: the workload's first message")
struct PostgresStartupTests {
    static func message(code: Int32, _ body: [UInt8] = []) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeInteger(Int32(8 + body.count))
        buffer.writeInteger(code)
        buffer.writeBytes(body)
        return buffer
    }

    static func startup(_ pairs: [(String, String)], terminated: Bool = true) -> ByteBuffer {
        var body: [UInt8] = []
        for (name, value) in pairs { body += Array(name.utf8) + [0] + Array(value.utf8) + [0] }
        if terminated { body.append(0) }
        return message(code: 196_608, body)
    }

    @Test("SSLRequest, GSSENCRequest, CancelRequest and a 3.0 startup with its parameters in order")
    func kinds() throws {
        var buffer = Self.message(code: 80_877_103)
        buffer.writeImmutableBuffer(
            Self.startup([("user", "app"), ("database", "orders"), ("application_name", "psql")]))
        #expect(try PostgresStartup.next(&buffer) == .sslRequest)
        let startup = try PostgresStartup.next(&buffer)
        #expect(
            startup
                == .startup(
                    version: 196_608,
                    parameters: [
                        ("user", "app"), ("database", "orders"), ("application_name", "psql"),
                    ]))
        #expect(buffer.readableBytes == 0)
        var gss = Self.message(code: 80_877_104)
        #expect(try PostgresStartup.next(&gss) == .gssEncryptionRequest)
        var cancel = Self.message(code: 80_877_102, [0, 0, 0x30, 0x39, 1, 2, 3, 4])
        #expect(try PostgresStartup.next(&cancel) == .cancel(key: [0, 0, 0x30, 0x39, 1, 2, 3, 4]))
    }

    @Test("a message not all arrived is waited for, not misread")
    func partial() throws {
        let whole = Self.startup([("user", "app")])
        var buffer = whole.getSlice(at: 0, length: whole.readableBytes - 3)!
        #expect(try PostgresStartup.next(&buffer) == nil)
        #expect(buffer.readableBytes == whole.readableBytes - 3)
        var short = ByteBuffer(bytes: [0, 0])
        #expect(try PostgresStartup.next(&short) == nil)
    }

    @Test(
        "refused: lengths outside 8...10000, unterminated or repeated parameters, a cancel of the wrong size, protocol 2"
    )
    func refusals() {
        var huge = ByteBuffer()
        huge.writeInteger(Int32(1_000_000))
        huge.writeInteger(Int32(196_608))
        var tiny = ByteBuffer()
        tiny.writeInteger(Int32(4))
        tiny.writeInteger(Int32(0))
        var negative = ByteBuffer()
        negative.writeInteger(Int32(-8))
        var unterminated = Self.startup([("user", "app")], terminated: false)
        unterminated.moveWriterIndex(to: unterminated.writerIndex - 1)
        unterminated.setInteger(Int32(unterminated.readableBytes), at: 0)
        let repeated = Self.startup([("user", "app"), ("user", "postgres")])
        let tooMany = Self.startup((0..<65).map { ("p\($0)", "v") })
        let shortCancel = Self.message(code: 80_877_102, [1, 2, 3])
        let version2 = Self.message(code: 131_072, [0])
        for (name, buffer) in [
            ("huge", huge), ("tiny", tiny), ("negative", negative), ("unterminated", unterminated),
            ("repeated", repeated), ("too many", tooMany), ("short cancel", shortCancel), ("version 2", version2),
        ] {
            var buffer = buffer
            #expect(throws: PostgresStartup.Refused.self, "\(name)") { try PostgresStartup.next(&buffer) }
        }
    }

    @Test("refusals are ErrorResponses with SQLSTATE and Sigil's words; a rejected login is reworded, its code kept")
    func errorResponses() throws {
        var refused = PostgresRefusal.refused("policy refused (no-policy): nothing allows it").errorResponse
        let message = try #require(try PostgresWire.next(&refused))
        #expect(message.type == UInt8(ascii: "E"))
        let fields = PostgresWire.fields(message)
        #expect(fields["S"] == "FATAL" && fields["C"] == "28000")
        #expect(fields["M"] == "sigil: policy refused (no-policy): nothing allows it")
        let rejected = PostgresRefusal.database(["C": "28P01", "M": "password authentication failed for user \"x\""])
        #expect(rejected.rejectsCredential && rejected.code == "28P01")
        #expect(rejected.message.hasPrefix("sigil: the database refused the credential Sigil issued"))
        let missing = PostgresRefusal.database(["C": "3D000", "M": "database \"nope\" does not exist"])
        #expect(!missing.rejectsCredential && missing.message == "database \"nope\" does not exist")
    }
}
