import Crypto
import Foundation
import Logging
import NIOSSL
import SigilService
import Synchronization

/// TLS on the workload's side of the edge's PostgreSQL listeners, with the edge's own certificate
/// (`SIGIL_EDGE_DATABASE_TLS_CERTIFICATE_FILE`, `SIGIL_EDGE_DATABASE_TLS_KEY_FILE`: a PEM chain, leaf first, and its
/// key). With it, an `SSLRequest` is answered `S` and the session continues over TLS 1.2 or later, and a startup that
/// did not ask for TLS first is refused: a workload that connects with `sslmode=verify-full` and the certificate's CA
/// knows it talks to its edge. Without it, the listeners are plain (answered `N`), meant for loopback.
///
/// The files are read when the edge starts (an edge whose files do not load does not start) and again whenever their
/// contents change (`reloadIfChanged`, every few seconds), so a rotated certificate — cert-manager, a renewed SVID, a
/// Kubernetes secret swapped under its mount — reaches new connections without a restart. A pair that does not load
/// (a file half written, a key that is not the certificate's) leaves the one before in use, and the log says why.
final class PostgresListenerTLS: Sendable {
    let certificateFile: String
    let keyFile: String
    private let current: Mutex<(context: NIOSSLContext, contents: SHA256Digest)>

    init(certificateFile: String, keyFile: String) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        do {
            let (contents, digest) = try Self.read(certificateFile, keyFile)
            current = Mutex((try Self.context(contents), digest))
        } catch {
            throw ConfigurationError(
                key: "SIGIL_EDGE_DATABASE_TLS_CERTIFICATE_FILE",
                expected: "a PEM certificate chain, with its key in SIGIL_EDGE_DATABASE_TLS_KEY_FILE (\(error))")
        }
    }

    /// The context new connections handshake with.
    var context: NIOSSLContext { current.withLock { $0.context } }

    /// Reads the files again; takes a pair whose contents changed if it loads. True when it took a new pair.
    @discardableResult
    func reloadIfChanged(logger: Logger) -> Bool {
        do {
            let (contents, digest) = try Self.read(certificateFile, keyFile)
            guard current.withLock({ $0.contents != digest }) else { return false }
            let context = try Self.context(contents)
            current.withLock { $0 = (context, digest) }
            logger.info("database listener certificate reloaded", metadata: ["file": "\(certificateFile)"])
            return true
        } catch {
            logger.error(
                "database listener certificate not reloaded; the one before stays in use",
                metadata: ["file": "\(certificateFile)", "error": "\(error)"])
            return false
        }
    }

    private static func read(
        _ certificate: String, _ key: String
    ) throws -> ((chain: [UInt8], key: [UInt8]), SHA256Digest) {
        let chain = try [UInt8](Data(contentsOf: URL(fileURLWithPath: certificate)))
        let key = try [UInt8](Data(contentsOf: URL(fileURLWithPath: key)))
        var hash = SHA256()
        hash.update(data: chain)
        hash.update(data: [0])
        hash.update(data: key)
        return ((chain, key), hash.finalize())
    }

    private static func context(_ contents: (chain: [UInt8], key: [UInt8])) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMBytes(contents.chain)
        guard !chain.isEmpty else { throw PostgresListenerTLSError("no certificate in the PEM file") }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: contents.key, format: .pem)))
        configuration.minimumTLSVersion = .tlsv12
        // BoringSSL checks that the key is the leaf's when the context is made: a mismatched pair throws here.
        return try NIOSSLContext(configuration: configuration)
    }
}

struct PostgresListenerTLSError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
