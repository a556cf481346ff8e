import Atomics
import CMaxMindDB
import Foundation
import SigilPolicy

/// A MaxMind-format geolocation database (GeoIP2/GeoLite2 City or Country, or any `.mmdb` with the same `country` and
/// `subdivisions` layout) read with libmaxminddb, memory-mapped. The file is looked at again at most once a minute
/// and opened anew when it changed (as `geoipupdate` replaces it); lookups go on against the open one meanwhile, and
/// a replacement that does not open keeps the old one (and says so).
public final class GeoDatabaseFile: GeoLocator, Sendable {
    public let path: String
    private let current: ManagedAtomic<GeoDatabase>
    private let checkedAt = ManagedAtomic<Int64>(0)
    private let modifiedAt = ManagedAtomic<Int64>(0)
    private let onReload: @Sendable (Result<Void, GeoDatabase.OpenError>) -> Void
    private let checkEvery: Int64

    /// Opens the database at `path`, looking at the file again every `checkEvery` seconds.
    public init(
        path: String, checkEvery seconds: Int64 = 60,
        onReload: @escaping @Sendable (Result<Void, GeoDatabase.OpenError>) -> Void = { _ in }
    ) throws(GeoDatabase.OpenError) {
        self.path = path
        checkEvery = seconds
        self.onReload = onReload
        current = ManagedAtomic(try GeoDatabase(path: path))
        modifiedAt.store(Self.modified(path), ordering: .relaxed)
        checkedAt.store(Self.uptimeSeconds(), ordering: .relaxed)
    }

    package func locate(_ address: IPAddress) -> GeoLocation? {
        reloadIfChanged()
        return current.load(ordering: .acquiring).locate(address)
    }

    private func reloadIfChanged() {
        let now = Self.uptimeSeconds()
        let last = checkedAt.load(ordering: .relaxed)
        guard now - last >= checkEvery,
            checkedAt.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        let modified = Self.modified(path)
        guard modified != modifiedAt.load(ordering: .relaxed) else { return }
        modifiedAt.store(modified, ordering: .relaxed)
        do {
            current.store(try GeoDatabase(path: path), ordering: .releasing)
            onReload(.success(()))
        } catch {
            onReload(.failure(error))
        }
    }

    /// The file's modification time and size, as one number that changes when the file is replaced.
    static func modified(_ path: String) -> Int64 {
        var status = stat()
        guard stat(path, &status) == 0 else { return -1 }
        let nanoseconds = Int64(status.st_mtim.tv_sec) &* 1_000_000_000 &+ Int64(status.st_mtim.tv_nsec)
        return nanoseconds ^ Int64(status.st_size)
    }

    static func uptimeSeconds() -> Int64 {
        Int64(DispatchTime.now().uptimeNanoseconds / 1_000_000_000)
    }
}

/// One open database. libmaxminddb's lookups are safe from several threads once it is open.
public final class GeoDatabase: AtomicReference, @unchecked Sendable {
    /// Why a database does not open (no secret in it: the path and libmaxminddb's reason).
    public struct OpenError: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "the geolocation database \(path) does not open: \(reason)" }
    }

    private let database: UnsafeMutablePointer<MMDB_s>

    init(path: String) throws(OpenError) {
        // Opened before `database` is set: a throw then runs no deinit (which would close it).
        let opened = UnsafeMutablePointer<MMDB_s>.allocate(capacity: 1)
        let status = MMDB_open(path, UInt32(MMDB_MODE_MMAP), opened)
        guard status == MMDB_SUCCESS else {
            opened.deallocate()
            throw OpenError(path: path, reason: String(cString: MMDB_strerror(status)))
        }
        database = opened
    }

    deinit {
        MMDB_close(database)
        database.deallocate()
    }

    func locate(_ address: IPAddress) -> GeoLocation? {
        var error: Int32 = 0
        var result: MMDB_lookup_result_s
        if address.isV4 {
            var socket = sockaddr_in()
            socket.sin_family = sa_family_t(AF_INET)
            withUnsafeMutableBytes(of: &socket.sin_addr) { $0.copyBytes(from: address.bytes) }
            result = withUnsafePointer(to: &socket) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(database, $0, &error) }
            }
        } else {
            var socket = sockaddr_in6()
            socket.sin6_family = sa_family_t(AF_INET6)
            withUnsafeMutableBytes(of: &socket.sin6_addr) { $0.copyBytes(from: address.bytes) }
            result = withUnsafePointer(to: &socket) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { MMDB_lookup_sockaddr(database, $0, &error) }
            }
        }
        guard error == MMDB_SUCCESS, result.found_entry else { return nil }
        let country = Self.string(&result.entry, ["country", "iso_code"])
        var subdivisions: [String] = []
        for index in 0..<4 {
            guard let code = Self.string(&result.entry, ["subdivisions", String(index), "iso_code"]) else { break }
            // The database gives the code within the country (`CA`); a policy names it in full (`US-CA`).
            subdivisions.append(country.map { "\($0)-\(code)" } ?? code)
        }
        guard country != nil || !subdivisions.isEmpty else { return nil }
        return GeoLocation(country: country, subdivisions: subdivisions)
    }

    /// The UTF-8 string at `path` in the entry, if there is one.
    static func string(_ entry: inout MMDB_entry_s, _ path: [String]) -> String? {
        var data = MMDB_entry_data_s()
        let pieces = path.map { strdup($0) } + [nil]
        defer { pieces.forEach { free($0) } }
        let status = pieces.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            MMDB_aget_value(&entry, &data, buffer.baseAddress)
        }
        guard status == MMDB_SUCCESS, data.has_data, data.type == UInt32(MMDB_DATA_TYPE_UTF8_STRING),
            let start = data.utf8_string, data.data_size <= 64
        else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: start, count: Int(data.data_size)), as: UTF8.self)
    }
}
