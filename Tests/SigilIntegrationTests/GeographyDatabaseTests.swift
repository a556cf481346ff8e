import Foundation
import SigilGeography
import SigilPolicy
import Testing

/// libmaxminddb over a database written by mmdb-writer (PyPI), as GeoLite2-City is laid out.
@Suite("Geography: a MaxMind-format database read with libmaxminddb")
struct GeographyDatabaseTests {
    /// Writes a database with `networks` (`NETWORK=COUNTRY[/SUBDIVISION]`; none: the script's default set).
    static func database(_ networks: [String] = [], at path: String? = nil) throws -> String {
        let out = path ?? FileManager.default.temporaryDirectory.appendingPathComponent("sigil-geo-\(UUID()).mmdb").path
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Peers/geo_mmdb.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, out] + networks
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "geo_mmdb.py failed"])
        }
        return out
    }

    @Test("countries and subdivisions of IPv4, IPv4-mapped and IPv6 addresses; unknown addresses have none")
    func lookups() throws {
        let path = try Self.database()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let database = try GeoDatabaseFile(path: path)
        func locate(_ text: String) -> GeoLocation? { database.locate(IPAddress(text)!) }
        #expect(locate("81.2.69.160") == GeoLocation(country: "GB", subdivisions: ["GB-ENG"]))
        #expect(
            locate("81.2.69.0") == GeoLocation(country: "GB", subdivisions: ["GB-ENG"]), "the block's first address")
        #expect(locate("81.2.70.0") == nil, "just past the block")
        #expect(locate("::ffff:216.160.83.56") == GeoLocation(country: "US", subdivisions: ["US-WA"]))
        #expect(locate("2001:db8:1::7") == GeoLocation(country: "DE", subdivisions: ["DE-BY"]))
        #expect(locate("2001:db8:2:ffff::1") == GeoLocation(country: "JP"))
        #expect(locate("10.0.0.1") == nil)
        #expect(GeographyCondition(countries: ["GB"]).holds(for: locate("81.2.69.1")!))
        #expect(GeographyCondition(subdivisions: ["US-WA"]).holds(for: locate("216.160.83.1")!))
        #expect(!GeographyCondition(subdivisions: ["US-CA"]).holds(for: locate("216.160.83.1")!))
    }

    @Test("a file that is no database is refused with the reason; a replaced file is read again, a broken one is not")
    func openAndReload() throws {
        let junk = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-geo-\(UUID()).mmdb").path
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: junk))
        defer { try? FileManager.default.removeItem(atPath: junk) }
        #expect(throws: GeoDatabase.OpenError.self) { try GeoDatabaseFile(path: junk) }
        #expect(throws: GeoDatabase.OpenError.self) { try GeoDatabaseFile(path: junk + ".missing") }

        let path = try Self.database(["81.2.69.0/24=GB"])
        defer { try? FileManager.default.removeItem(atPath: path) }
        let database = try GeoDatabaseFile(path: path, checkEvery: 0)
        #expect(database.locate(IPAddress("81.2.69.1")!)?.country == "GB")
        // Replaced the way geoipupdate does: a new file renamed over the old.
        let next = try Self.database(["81.2.69.0/24=IE"], at: path + ".new")
        _ = rename(next, path)
        #expect(database.locate(IPAddress("81.2.69.1")!)?.country == "IE")
        try Data("broken".utf8).write(to: URL(fileURLWithPath: path + ".new"))
        _ = rename(path + ".new", path)
        #expect(database.locate(IPAddress("81.2.69.1")!)?.country == "IE", "the last good database stays")
    }
}
