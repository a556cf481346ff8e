import NIOCore

/// The first message a workload sends the edge's PostgreSQL listener (it has no type byte): `int32 length`, `int32
/// code`, body. PostgreSQL's own bound on it is 10,000 bytes; so is the edge's.
enum PostgresStartup: Equatable {
    /// `SSLRequest`: answered `N` (the workload's side is plain on loopback), then the real startup follows.
    case sslRequest
    /// `GSSENCRequest`: answered `N`, as a server without GSSAPI does.
    case gssEncryptionRequest
    /// `CancelRequest`: the backend's process id and secret key as the workload received them (`BackendKeyData`).
    case cancel(key: [UInt8])
    /// `StartupMessage`: the protocol version and the parameters in order (user, database, application_name, ...).
    case startup(version: Int32, parameters: [(String, String)])

    static let maximumLength = 10_000
    static let sslRequestCode: Int32 = 80_877_103
    static let gssEncryptionRequestCode: Int32 = 80_877_104
    static let cancelRequestCode: Int32 = 80_877_102

    struct Refused: Error, Equatable {
        let detail: String
    }

    /// The next whole first message in `buffer` (consumed), nil until it has all arrived.
    static func next(_ buffer: inout ByteBuffer) throws(Refused) -> PostgresStartup? {
        guard let length: Int32 = buffer.getInteger(at: buffer.readerIndex) else { return nil }
        guard (8...Int32(maximumLength)).contains(length) else {
            throw Refused(detail: "a startup message of \(length) bytes (PostgreSQL's bound is \(maximumLength))")
        }
        guard buffer.readableBytes >= Int(length) else { return nil }
        var message = buffer.readSlice(length: Int(length))!
        message.moveReaderIndex(forwardBy: 4)
        let code: Int32 = message.readInteger()!
        switch code {
        case sslRequestCode: return .sslRequest
        case gssEncryptionRequestCode: return .gssEncryptionRequest
        case cancelRequestCode:
            // Process id (4 bytes) and a secret of 4 (protocol 3.0) to 256 bytes (3.2).
            guard (8...260).contains(message.readableBytes) else {
                throw Refused(detail: "a cancel request of \(length) bytes")
            }
            return .cancel(key: message.readBytes(length: message.readableBytes)!)
        case let version where version >> 16 == 3:
            return .startup(version: version, parameters: try parameters(&message))
        default:
            throw Refused(
                detail: "frontend protocol \(code >> 16).\(code & 0xFFFF) is not supported: the edge speaks 3.x")
        }
    }

    /// `name\0value\0` pairs up to an empty name; names unique, no more than 64 of them.
    private static func parameters(_ message: inout ByteBuffer) throws(Refused) -> [(String, String)] {
        var parameters: [(String, String)] = []
        while true {
            guard let name = message.readNullTerminatedString() else {
                throw Refused(detail: "the startup message's parameters are not terminated")
            }
            if name.isEmpty { break }
            guard let value = message.readNullTerminatedString() else {
                throw Refused(detail: "startup parameter \(name.prefix(64)) has no value")
            }
            guard parameters.count < 64, !parameters.contains(where: { $0.0 == name }) else {
                throw Refused(detail: "the startup message repeats a parameter or has more than 64")
            }
            parameters.append((name, value))
        }
        return parameters
    }

    static func == (left: Self, right: Self) -> Bool {
        switch (left, right) {
        case (.sslRequest, .sslRequest), (.gssEncryptionRequest, .gssEncryptionRequest): return true
        case (.cancel(let one), .cancel(let other)): return one == other
        case (.startup(let version, let parameters), .startup(let otherVersion, let others)):
            return version == otherVersion && parameters.elementsEqual(others) { $0 == $1 }
        default: return false
        }
    }

    /// The SSLRequest the edge sends an upstream before its startup (sslmode verify-full).
    static var sslRequestMessage: ByteBuffer {
        var message = ByteBuffer()
        message.writeInteger(Int32(8))
        message.writeInteger(sslRequestCode)
        return message
    }

    /// A CancelRequest for the backend `key` (process id and secret), forwarded to the upstream that issued it.
    static func cancelMessage(key: [UInt8]) -> ByteBuffer {
        var message = ByteBuffer()
        message.writeInteger(Int32(8 + key.count))
        message.writeInteger(cancelRequestCode)
        message.writeBytes(key)
        return message
    }
}
