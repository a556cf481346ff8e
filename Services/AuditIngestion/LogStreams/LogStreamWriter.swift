import Foundation
import Logging
import SigilEvents
import SigilService

/// Log streams of type `file`: each new audit record of the stream's tenant is appended as one JSON line.
/// Written after the batch commits (at-most-once per record if the process dies in between; the audit log itself
/// is the source of truth).
struct LogStreamWriter: Sendable {
    let streams: ResourceIndex<LogStreamSpec>

    func write(_ records: [(tenant: String, record: AuditRecord)], logger: Logger) {
        guard !records.isEmpty else { return }
        for (tenant, group) in Dictionary(grouping: records, by: \.tenant) {
            let lines = group.compactMap { try? EventJSON.encoder.encode($0.record) }
            for stream in streams.all(tenant: tenant) {
                guard case .file(let file) = stream.spec else { continue }
                let path = file.path
                do {
                    if !FileManager.default.fileExists(atPath: path) {
                        _ = FileManager.default.createFile(
                            atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                    }
                    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                    defer { try? handle.close() }
                    try handle.seekToEnd()
                    for line in lines { try handle.write(contentsOf: line + Data("\n".utf8)) }
                } catch {
                    logger.error("log stream not written", metadata: ["stream": "\(stream.name)", "error": "\(error)"])
                }
            }
        }
    }
}
