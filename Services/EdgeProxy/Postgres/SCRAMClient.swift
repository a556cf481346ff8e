import Crypto
import Foundation
import _CryptoExtras

/// The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it: no channel binding (`n,,`), an
/// empty user name in the messages (PostgreSQL takes the user from the startup message). The edge authenticates to an
/// upstream PostgreSQL with it — the password it proves never crosses the wire — and checks the server's signature, so
/// a server that does not know the password is not believed. PBKDF2 and HMAC are swift-crypto's; only the message
/// syntax is written here (postgres-nio keeps its SCRAM internal).
struct SCRAMClient {
    enum Failure: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        case nonceMismatch
        case iterations(Int)
        case serverSignature
        case server(String)

        var description: String {
            switch self {
            case .malformed(let what): return "the server's SCRAM message is malformed (\(what))"
            case .nonceMismatch: return "the server's SCRAM nonce does not extend ours"
            case .iterations(let count): return "the server asks for \(count) PBKDF2 iterations (4,096 to 10,000,000)"
            case .serverSignature: return "the server's SCRAM signature is wrong: it does not know the password"
            case .server(let error): return "the server refused SCRAM: \(error)"
            }
        }
    }

    let password: String
    let clientNonce: String
    /// Empty for PostgreSQL; other servers take it here (`=` and `,` escaped as RFC 5802 says).
    let user: String
    private var clientFirstBare: String {
        "n=" + user.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
            + ",r=\(clientNonce)"
    }
    private(set) var expectedServerSignature: [UInt8]?

    init(password: String, user: String = "", clientNonce: String = SCRAMClient.nonce()) {
        self.password = password
        self.user = user
        self.clientNonce = clientNonce
    }

    /// 18 random bytes, base64 (printable, no comma).
    static func nonce() -> String {
        Data((0..<18).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    /// `client-first-message`: the GS2 header (no channel binding) and the bare part.
    var clientFirst: String { "n,," + clientFirstBare }

    /// `client-final-message` for the server's first message; remembers the server signature to expect.
    mutating func clientFinal(serverFirst: String) throws(Failure) -> String {
        let fields = Self.fields(serverFirst)
        guard let nonce = fields["r"], let saltText = fields["s"], let salt = Data(base64Encoded: saltText),
            let iterationText = fields["i"], let iterations = Int(iterationText)
        else { throw .malformed("r, s and i are required") }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else { throw .nonceMismatch }
        guard (4_096...10_000_000).contains(iterations) else { throw .iterations(iterations) }
        let salted: SymmetricKey
        do {
            salted = try KDF.Insecure.PBKDF2.deriveKey(
                from: Array(password.utf8), salt: salt, using: .sha256, outputByteCount: 32,
                unsafeUncheckedRounds: iterations)
        } catch {
            throw .malformed("PBKDF2 failed")
        }
        let clientKey: [UInt8] = Self.hmac(salted, "Client Key")
        let storedKey = Array(SHA256.hash(data: clientKey))
        let finalWithoutProof = "c=biws,r=\(nonce)"
        let authMessage = clientFirstBare + "," + serverFirst + "," + finalWithoutProof
        let clientSignature = Self.hmac(SymmetricKey(data: storedKey), authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey: [UInt8] = Self.hmac(salted, "Server Key")
        expectedServerSignature = Self.hmac(SymmetricKey(data: serverKey), authMessage)
        return finalWithoutProof + ",p=" + Data(proof).base64EncodedString()
    }

    /// Checks the server's final message: its signature must be the one only a holder of the password computes.
    func verify(serverFinal: String) throws(Failure) {
        let fields = Self.fields(serverFinal)
        if let error = fields["e"] { throw .server(String(error.prefix(64))) }
        guard let expected = expectedServerSignature, let text = fields["v"], let signature = Data(base64Encoded: text)
        else { throw .malformed("v is required") }
        guard Array(signature) == expected else { throw .serverSignature }
    }

    private static func hmac(_ key: SymmetricKey, _ text: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key))
    }

    private static func hmac(_ key: SymmetricKey, _ bytes: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: bytes, using: key))
    }

    /// `a=value,b=value`: each attribute's value (the first of each name).
    private static func fields(_ message: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in message.split(separator: ",") where part.count >= 2 && part.dropFirst().first == "=" {
            let name = String(part.prefix(1))
            if result[name] == nil { result[name] = String(part.dropFirst(2)) }
        }
        return result
    }
}
