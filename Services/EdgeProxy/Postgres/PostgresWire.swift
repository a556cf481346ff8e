import Crypto
import Foundation
import NIOCore

/// The few PostgreSQL protocol (v3) messages the edge writes and reads around authentication: after it, bytes are
/// relayed as they are. Backend messages are `type, int32 length (itself included), body`; a length outside
/// 4...`maximumLength` is an error, never an allocation.
enum PostgresWire {
    static let protocolVersion: Int32 = 196_608  // 3.0
    /// The longest backend message read before authentication completes (an error text, a parameter).
    static let maximumLength = 64 * 1024

    /// `StartupMessage`: the protocol version and `name\0value\0` pairs, then a final `\0`.
    static func startup(_ parameters: [(String, String)], version: Int32 = protocolVersion) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeInteger(version)
        for (name, value) in parameters {
            body.writeNullTerminatedString(name)
            body.writeNullTerminatedString(value)
        }
        body.writeInteger(UInt8(0))
        var message = ByteBuffer()
        message.writeInteger(Int32(body.readableBytes + 4))
        message.writeBuffer(&body)
        return message
    }

    /// `SASLInitialResponse`: the mechanism and the client's first message.
    static func saslInitialResponse(mechanism: String, _ data: String) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeNullTerminatedString(mechanism)
        body.writeInteger(Int32(data.utf8.count))
        body.writeString(data)
        return frontend("p", body)
    }

    /// `SASLResponse`: the client's next message.
    static func saslResponse(_ data: String) -> ByteBuffer { frontend("p", ByteBuffer(string: data)) }

    /// `PasswordMessage` for MD5: `md5` + hex(md5(hex(md5(password + user)) + salt)).
    static func md5Password(user: String, password: String, salt: [UInt8]) -> ByteBuffer {
        let inner = hex(Insecure.MD5.hash(data: Array((password + user).utf8)))
        let outer = hex(Insecure.MD5.hash(data: Array(inner.utf8) + salt))
        var body = ByteBuffer()
        body.writeNullTerminatedString("md5" + outer)
        return frontend("p", body)
    }

    /// `PasswordMessage` with the password in clear (only ever inside TLS).
    static func passwordMessage(_ password: String) -> ByteBuffer {
        var body = ByteBuffer()
        body.writeNullTerminatedString(password)
        return frontend("p", body)
    }

    /// An `ErrorResponse` the edge sends a workload in the server's place: severity FATAL, the SQLSTATE and message,
    /// so psql and drivers show Sigil's reason.
    static func errorResponse(code: String, message: String) -> ByteBuffer {
        var body = ByteBuffer()
        for (field, value) in [("S", "FATAL"), ("V", "FATAL"), ("C", code), ("M", message)] {
            body.writeString(field)
            body.writeNullTerminatedString(value.replacingOccurrences(of: "\0", with: ""))
        }
        body.writeInteger(UInt8(0))
        return frontend("E", body)
    }

    struct Message {
        let type: UInt8
        var body: ByteBuffer
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The next whole backend message in `buffer` (consumed), nil if it has not all arrived.
    static func next(_ buffer: inout ByteBuffer) throws -> Message? {
        guard let type: UInt8 = buffer.getInteger(at: buffer.readerIndex),
            let length: Int32 = buffer.getInteger(at: buffer.readerIndex + 1)
        else { return nil }
        guard (4...Int32(maximumLength)).contains(length) else {
            throw Malformed(description: "a message of \(length) bytes")
        }
        guard buffer.readableBytes >= 1 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 5)
        let body = buffer.readSlice(length: Int(length) - 4)!
        return Message(type: type, body: body)
    }

    enum Authentication: Equatable {
        case ok
        case cleartextPassword
        case md5Password(salt: [UInt8])
        case sasl(mechanisms: [String])
        case saslContinue(String)
        case saslFinal(String)
        case unsupported(Int32)
    }

    /// An `R` message's request.
    static func authentication(_ message: Message) throws -> Authentication {
        var body = message.body
        guard message.type == UInt8(ascii: "R"), let code: Int32 = body.readInteger() else {
            throw Malformed(description: "not an authentication request")
        }
        switch code {
        case 0: return .ok
        case 3: return .cleartextPassword
        case 5:
            guard let salt = body.readBytes(length: 4) else {
                throw Malformed(description: "an MD5 request without salt")
            }
            return .md5Password(salt: salt)
        case 10:
            var mechanisms: [String] = []
            while let name = body.readNullTerminatedString(), !name.isEmpty { mechanisms.append(name) }
            return .sasl(mechanisms: mechanisms)
        case 11: return .saslContinue(body.readString(length: body.readableBytes) ?? "")
        case 12: return .saslFinal(body.readString(length: body.readableBytes) ?? "")
        default: return .unsupported(code)
        }
    }

    /// An `ErrorResponse`'s or `NoticeResponse`'s fields by their one-letter code (`C` SQLSTATE, `M` message).
    static func fields(_ message: Message) -> [Character: String] {
        var body = message.body
        var fields: [Character: String] = [:]
        while let code: UInt8 = body.readInteger(), code != 0, let value = body.readNullTerminatedString() {
            fields[Character(UnicodeScalar(code))] = value
        }
        return fields
    }

    private static func frontend(_ type: Character, _ body: ByteBuffer) -> ByteBuffer {
        var body = body
        var message = ByteBuffer()
        message.writeInteger(type.asciiValue!)
        message.writeInteger(Int32(body.readableBytes + 4))
        message.writeBuffer(&body)
        return message
    }

    private static func hex(_ digest: some Sequence<UInt8>) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}
