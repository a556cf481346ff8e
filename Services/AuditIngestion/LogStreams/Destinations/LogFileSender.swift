import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Appends one line per record to a file under the log directory, created 0600, synced to disk before a batch
/// counts as delivered, rotated by size (`path.1` is the newest rotated file, up to `keep`). The file is opened
/// without following a symbolic link, and no directory on the way may be one: a link planted in the log directory
/// cannot send records elsewhere.
final class LogFileSender: LogSender {
    let path: String
    let destination: FileDestination
    let formatter: LogRecordFormatter
    private let descriptor = Mutex<Int32?>(nil)

    init(path: String, destination: FileDestination, formatter: LogRecordFormatter) throws {
        self.path = path
        self.destination = destination
        self.formatter = formatter
    }

    func send(_ records: [AuditRecord]) async throws {
        guard !records.isEmpty else { return }
        var bytes: [UInt8] = []
        for record in records {
            bytes += Array(formatter.text(record).utf8)
            bytes.append(0x0A)
        }
        try descriptor.withLock { descriptor in
            let file = try descriptor ?? open()
            descriptor = file
            do {
                try write(bytes, to: file)
                guard fsync(file) == 0 else { throw failure("sync") }
                var status = stat()
                if fstat(file, &status) == 0, Int(status.st_size) >= destination.maxBytes {
                    Glibc.close(file)
                    descriptor = nil
                    try rotate()
                }
            } catch {
                if let open = descriptor { Glibc.close(open) }
                descriptor = nil
                throw error
            }
        }
    }

    func close() async {
        descriptor.withLock { descriptor in
            if let open = descriptor { Glibc.close(open) }
            descriptor = nil
        }
    }

    private func open() throws -> Int32 {
        try makeDirectories()
        let file = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard file >= 0 else { throw failure("open") }
        return file
    }

    private func write(_ bytes: [UInt8], to file: Int32) throws {
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(file, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure("write")
            }
            written += count
        }
    }

    /// Creates the directories between the log directory and the file (0700), refusing symbolic links.
    private func makeDirectories() throws {
        let components = destination.path.split(separator: "/").dropLast()
        var directory = String(path.dropLast(destination.path.count + 1))
        for component in components {
            directory += "/" + component
            var status = stat()
            if lstat(directory, &status) == 0 {
                guard status.st_mode & S_IFMT == S_IFDIR else {
                    throw LogDeliveryError(description: "\(destination.path): a path component is not a directory")
                }
            } else if mkdir(directory, 0o700) != 0 && errno != EEXIST {
                throw failure("create a directory for")
            }
        }
    }

    private func rotate() throws {
        for index in stride(from: destination.keep - 1, through: 1, by: -1) {
            Glibc.rename("\(path).\(index)", "\(path).\(index + 1)")
        }
        guard Glibc.rename(path, "\(path).1") == 0 else { throw failure("rotate") }
    }

    private func failure(_ action: String) -> LogDeliveryError {
        LogDeliveryError(description: "cannot \(action) \(destination.path): \(String(cString: strerror(errno)))")
    }
}
