import Crypto
import Foundation
import Logging
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SwiftASN1
import Synchronization
import X509

/// The workload's evidence as the edge currently holds it: every configured file read when it changes (checked
/// every 250 ms), never on the request path, so a rotated token or certificate is used within a second and a request
/// costs no file read. What is gathered is one bundle (completed per request with the certificate's proof) and a
/// digest that caches and logs know it by.
final class WorkloadEvidence: Service, Sendable {
    /// Where the evidence comes from (`EdgeConfiguration`'s files).
    struct Sources: Sendable {
        var tokenFiles: [String] = []
        /// PEM certificate chain (leaf first) and the leaf's private key.
        var certificate: (chain: String, key: String)?
        var joinTokenFile: String?
        /// The instance identity document as served, and its base64 `signature`.
        var awsInstanceIdentity: (document: String, signature: String)?
    }

    struct Gathered: Sendable {
        /// Tokens, join token and document; the certificate's proof is added per request (`bundle(for:)`).
        let evidence: WorkloadEvidenceBundle
        let certificate: HeldCertificate?
        /// SHA-256 of everything gathered, hex: what caches and logs know the evidence by.
        let digest: String

        /// The bundle to seal into one request: with a proof of the certificate's key over its id.
        func bundle(tenant: String, requestID: String) throws -> WorkloadEvidenceBundle {
            var bundle = evidence
            if let certificate {
                let proof = try ProofOfPossession.sign(
                    X509Evidence.proofMessage(tenant: tenant, requestID: requestID), with: certificate.key,
                    of: certificate.leaf)
                bundle.x509 = X509Evidence(chain: certificate.chain, proof: proof)
            }
            return bundle
        }
    }

    struct HeldCertificate: Sendable {
        let chain: [[UInt8]]
        let leaf: Certificate
        let key: Certificate.PrivateKey
    }

    /// Why there is no usable evidence: which file, and what is wrong with it.
    struct Problem: Sendable, Equatable {
        let path: String
        let problem: EvidenceFile.Problem
    }

    struct EvidenceError: Error, Sendable { let problem: Problem }

    /// Largest file accepted (tokens, certificates and documents are a few KiB).
    static let maximumBytes = 64 * 1024

    private let tokenFiles: [EvidenceFile]
    private let certificateFiles: (chain: EvidenceFile, key: EvidenceFile)?
    private let joinTokenFile: EvidenceFile?
    private let awsFiles: (document: EvidenceFile, signature: EvidenceFile)?
    private let interval: Duration
    private let logger: Logger
    private let state: Snapshot<Result<Gathered, EvidenceError>>
    /// `refresh` runs from the watcher and (rarely) from a request that found no evidence: one at a time.
    private let refreshing = Mutex(())

    init(_ sources: Sources, interval: Duration = .milliseconds(250), logger: Logger) {
        func file(_ path: String) -> EvidenceFile { EvidenceFile(path: path, maximumBytes: Self.maximumBytes) }
        tokenFiles = sources.tokenFiles.map(file)
        certificateFiles = sources.certificate.map { (file($0.chain), file($0.key)) }
        joinTokenFile = sources.joinTokenFile.map(file)
        awsFiles = sources.awsInstanceIdentity.map { (file($0.document), file($0.signature)) }
        self.interval = interval
        self.logger = logger
        let first = sources.tokenFiles.first ?? sources.certificate?.chain ?? sources.joinTokenFile ?? ""
        state = Snapshot(.failure(EvidenceError(problem: Problem(path: first, problem: .unreadable))))
        refresh()
    }

    convenience init(tokenFiles: [String], interval: Duration = .milliseconds(250), logger: Logger) {
        self.init(Sources(tokenFiles: tokenFiles), interval: interval, logger: logger)
    }

    /// The evidence to present, or why there is none. One atomic load.
    var current: Result<Gathered, EvidenceError> { state.value }

    private var allFiles: [EvidenceFile] {
        tokenFiles
            + [
                certificateFiles?.chain, certificateFiles?.key, joinTokenFile, awsFiles?.document,
                awsFiles?.signature,
            ].compactMap { $0 }
    }

    /// Re-reads the files that changed, and gathers the evidence again if any did.
    func refresh() {
        refreshing.withLock { _ in
            var changed = false
            for file in allFiles where file.refresh() { changed = true }
            guard changed else { return }
            let gathered: Gathered
            switch Result(catching: { () throws(EvidenceError) in try gather() }) {
            case .success(let result): gathered = result
            case .failure(let error):
                state.update { $0 = .failure(error) }
                return
            }
            let previous = try? state.value.get().digest
            state.update { $0 = .success(gathered) }
            if previous != gathered.digest {
                logger.info("workload evidence read", metadata: ["evidence.sha256": "\(gathered.digest.prefix(12))"])
            }
        }
    }

    private func gather() throws(EvidenceError) -> Gathered {
        func text(_ file: EvidenceFile) throws(EvidenceError) -> String {
            switch file.text {
            case .success(let text): return text
            case .failure(let error): throw EvidenceError(problem: Problem(path: file.path, problem: error.problem))
            }
        }
        func unusable(_ file: EvidenceFile, _ why: String) -> EvidenceError {
            EvidenceError(problem: Problem(path: file.path, problem: .unusable(why)))
        }
        var hasher = SHA256()
        func digest(_ text: String) {
            hasher.update(data: Array(text.utf8))
            hasher.update(data: [0])
        }
        var bundle = WorkloadEvidenceBundle()
        for file in tokenFiles {
            let token = try text(file)
            bundle.tokens.append(token)
            digest(token)
        }
        var certificate: HeldCertificate?
        if let (chainFile, keyFile) = certificateFiles {
            let chainPEM = try text(chainFile)
            let keyPEM = try text(keyFile)
            let documents: [PEMDocument]
            let chain: [Certificate]
            do {
                documents = try PEMDocument.parseMultiple(pemString: chainPEM)
                chain = try documents.map { try Certificate(pemDocument: $0) }
            } catch {
                throw unusable(chainFile, "it holds no PEM certificate chain")
            }
            guard let leaf = chain.first else { throw unusable(chainFile, "it holds no PEM certificate") }
            let key: Certificate.PrivateKey
            do {
                key = try Certificate.PrivateKey(pemEncoded: keyPEM)
            } catch {
                throw unusable(keyFile, "it holds no PEM private key")
            }
            guard key.publicKey == leaf.publicKey else {
                throw unusable(keyFile, "the key is not the leaf certificate's")
            }
            certificate = HeldCertificate(chain: documents.map(\.derBytes), leaf: leaf, key: key)
            digest(chainPEM)
        }
        if let joinTokenFile {
            let token = try text(joinTokenFile)
            bundle.joinToken = token
            digest(token)
        }
        if let (documentFile, signatureFile) = awsFiles {
            // Signed as served: the document's bytes exactly, not trimmed.
            guard case .success(let document) = documentFile.content, !document.isEmpty else {
                _ = try text(documentFile)
                throw unusable(documentFile, "it is empty")
            }
            let encoded = try text(signatureFile).filter { !$0.isWhitespace }
            guard let signature = Data(base64Encoded: encoded) else {
                throw unusable(signatureFile, "it is not base64 (the instance metadata `signature`)")
            }
            bundle.awsInstanceIdentity = AWSInstanceIdentityEvidence(document: document, signature: Array(signature))
            hasher.update(data: document)
        }
        let hex = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return Gathered(evidence: bundle, certificate: certificate, digest: hex)
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: self.interval)
                self.refresh()
            }
        }
    }
}
