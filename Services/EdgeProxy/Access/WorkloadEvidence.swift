import Crypto
import Foundation
import Logging
import ServiceLifecycle
import SigilEvents
import Synchronization

/// The workload's evidence as the edge currently holds it: every configured file read when it changes (checked
/// every 250 ms), never on the request path, so a rotated token is used within a second and a request costs no file
/// read. What is gathered is one bundle (sealed per request) and a digest that caches and logs know it by.
final class WorkloadEvidence: Service, Sendable {
    struct Gathered: Sendable, Hashable {
        let bundle: WorkloadEvidenceBundle
        /// SHA-256 of the bundle's content, hex: what caches and logs know the evidence by.
        let digest: String
    }

    /// Why there is no usable evidence: which file, and what is wrong with it.
    struct Problem: Sendable, Equatable {
        let path: String
        let problem: EvidenceFile.Problem
    }

    struct EvidenceError: Error, Sendable { let problem: Problem }

    /// Largest token accepted from a file (service-account and CI tokens are a few KiB).
    static let maximumBytes = 64 * 1024

    private let tokenFiles: [EvidenceFile]
    private let interval: Duration
    private let logger: Logger
    private let state: Snapshot<Result<Gathered, EvidenceError>>
    /// `refresh` runs from the watcher and (rarely) from a request that found no evidence: one at a time.
    private let refreshing = Mutex(())

    init(tokenFiles: [String], interval: Duration = .milliseconds(250), logger: Logger) {
        self.tokenFiles = tokenFiles.map { EvidenceFile(path: $0, maximumBytes: Self.maximumBytes) }
        self.interval = interval
        self.logger = logger
        self.state = Snapshot(
            .failure(EvidenceError(problem: Problem(path: tokenFiles.first ?? "", problem: .unreadable))))
        refresh()
    }

    /// The evidence to present, or why there is none. One atomic load.
    var current: Result<Gathered, EvidenceError> { state.value }

    /// Re-reads the files that changed, and gathers the bundle again if any did.
    func refresh() {
        refreshing.withLock { _ in
            var changed = false
            for file in tokenFiles where file.refresh() { changed = true }
            guard changed else { return }
            var tokens: [String] = []
            for file in tokenFiles {
                switch file.text {
                case .success(let token): tokens.append(token)
                case .failure(let error):
                    state.update { $0 = .failure(EvidenceError(problem: Problem(path: file.path, problem: error.problem))) }
                    return
                }
            }
            let bundle = WorkloadEvidenceBundle(tokens: tokens)
            var hasher = SHA256()
            for token in tokens {
                hasher.update(data: Array(token.utf8))
                hasher.update(data: [0])
            }
            let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
            let previous = try? state.value.get().digest
            state.update { $0 = .success(Gathered(bundle: bundle, digest: digest)) }
            if previous != digest { logger.info("workload evidence read", metadata: ["evidence.sha256": "\(digest.prefix(12))"]) }
        }
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
