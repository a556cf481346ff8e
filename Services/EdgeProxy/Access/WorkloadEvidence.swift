import Crypto
import Foundation
import Logging
import ServiceLifecycle

/// The workload's token as the edge currently holds it: read when the file changes (checked every 250 ms), never
/// on the request path, so a rotated token is used within a second and a request costs no file read.
final class WorkloadEvidence: Service, Sendable {
    struct Token: Sendable, Hashable {
        let value: String
        /// SHA-256 of the token, hex: what caches and logs know the token by.
        let digest: String
    }

    /// Why there is no usable token (the detail of the 403 a request gets).
    enum Problem: Sendable, Equatable {
        case unreadable
        case empty
        case tooLarge
    }

    /// Largest token accepted from the file (service-account and CI tokens are a few KiB).
    static let maximumBytes = 64 * 1024

    private let path: String
    private let interval: Duration
    private let logger: Logger
    private let state: Snapshot<Result<Token, EvidenceError>>
    private let fileStamp = Snapshot<FileStamp?>(nil)

    struct EvidenceError: Error, Sendable { let problem: Problem }

    private struct FileStamp: Sendable, Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: Int
        let modifiedNanoseconds: Int
    }

    init(path: String, interval: Duration = .milliseconds(250), logger: Logger) {
        self.path = path
        self.interval = interval
        self.logger = logger
        self.state = Snapshot(.failure(EvidenceError(problem: .unreadable)))
        refresh()
    }

    /// The token to present, or why there is none. One atomic load.
    var current: Result<Token, EvidenceError> { state.value }

    /// Re-reads the file if its identity, size or modification time changed since the last read.
    func refresh() {
        var status = stat()
        guard stat(path, &status) == 0 else {
            fileStamp.update { $0 = nil }
            state.update { $0 = .failure(EvidenceError(problem: .unreadable)) }
            return
        }
        let stamp = FileStamp(
            device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
            modified: Int(status.st_mtim.tv_sec), modifiedNanoseconds: Int(status.st_mtim.tv_nsec))
        guard stamp != fileStamp.value else { return }
        fileStamp.update { $0 = stamp }
        guard status.st_size <= Self.maximumBytes else {
            state.update { $0 = .failure(EvidenceError(problem: .tooLarge)) }
            return
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            state.update { $0 = .failure(EvidenceError(problem: .unreadable)) }
            return
        }
        let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else {
            state.update { $0 = .failure(EvidenceError(problem: .empty)) }
            return
        }
        let digest = SHA256.hash(data: Array(token.utf8)).map { String(format: "%02x", $0) }.joined()
        let changed: Bool
        if case .success(let previous) = state.value { changed = previous.digest != digest } else { changed = true }
        state.update { $0 = .success(Token(value: token, digest: digest)) }
        if changed { logger.info("workload token read", metadata: ["token.sha256": "\(digest.prefix(12))"]) }
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
