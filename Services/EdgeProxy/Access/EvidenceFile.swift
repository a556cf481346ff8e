import Foundation

/// One file the edge reads evidence from (a token, a certificate, a key), re-read only when its identity, size or
/// modification time changes: a rotated file is picked up at the next check, and an unchanged one costs a `stat`.
final class EvidenceFile: @unchecked Sendable {
    /// Why the file gives no evidence (the detail of the 403 a request gets).
    enum Problem: Sendable, Equatable {
        case unreadable
        case empty
        case tooLarge
        /// Read, but not what it should hold (no PEM certificate, a key that does not match).
        case unusable(String)
    }

    let path: String
    let maximumBytes: Int
    /// Only touched by `refresh`, which `WorkloadEvidence` serialises.
    private var stamp: FileStamp?
    private(set) var content: Result<[UInt8], EvidenceFileError> = .failure(EvidenceFileError(problem: .unreadable))

    struct EvidenceFileError: Error, Sendable, Equatable {
        let problem: Problem
    }

    private struct FileStamp: Equatable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modified: Int
        let modifiedNanoseconds: Int
    }

    init(path: String, maximumBytes: Int) {
        self.path = path
        self.maximumBytes = maximumBytes
    }

    /// Reads the file again if it changed; returns whether its content (or problem) may have changed.
    func refresh() -> Bool {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let changed = stamp != nil || content != .failure(EvidenceFileError(problem: .unreadable))
            stamp = nil
            content = .failure(EvidenceFileError(problem: .unreadable))
            return changed
        }
        let current = FileStamp(
            device: UInt64(status.st_dev), inode: UInt64(status.st_ino), size: Int64(status.st_size),
            modified: Int(status.st_mtim.tv_sec), modifiedNanoseconds: Int(status.st_mtim.tv_nsec))
        guard current != stamp else { return false }
        stamp = current
        guard status.st_size <= maximumBytes else {
            content = .failure(EvidenceFileError(problem: .tooLarge))
            return true
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= maximumBytes else {
            content = .failure(EvidenceFileError(problem: .unreadable))
            return true
        }
        content = .success(Array(data))
        return true
    }

    /// The content as trimmed UTF-8 text, or why not.
    var text: Result<String, EvidenceFileError> {
        content.flatMap { bytes in
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return .failure(EvidenceFileError(problem: .unreadable))
            }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? .failure(EvidenceFileError(problem: .empty)) : .success(trimmed)
        }
    }
}
