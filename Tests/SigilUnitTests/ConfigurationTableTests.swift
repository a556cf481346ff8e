import Foundation
import Testing

/// The README's configuration table against the code: every `SIGIL_` variable a service or the CLI reads has a row,
/// every row names a variable something reads, and the deployment files set only variables that exist (a typo in a
/// manifest would otherwise be ignored silently by the service).
@Suite("Configuration table: README against the code")
struct ConfigurationTableTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// `SIGIL_…` names in string literals of the Swift files under the folders.
    static func variablesRead(under folders: [String]) throws -> Set<String> {
        var names: Set<String> = []
        for folder in folders {
            let root = repository.appendingPathComponent(folder)
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let file = files?.nextObject() as? URL {
                guard file.pathExtension == "swift" else { continue }
                let text = try String(contentsOf: file, encoding: .utf8)
                names.formUnion(matches(of: #/"(SIGIL_[A-Z0-9_]+)"/#, in: text))
            }
        }
        return names
    }

    static func matches(of pattern: Regex<(Substring, Substring)>, in text: String) -> [String] {
        text.matches(of: pattern).map { String($0.output.1) }
    }

    /// The variables in the first column of the README's configuration table.
    static func tableVariables() throws -> Set<String> {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.range(of: "## Configuration\n"))
        var names: Set<String> = []
        for line in readme[section.upperBound...].split(separator: "\n") {
            if line.hasPrefix("## ") { break }
            guard line.hasPrefix("| `SIGIL_") else { continue }
            let firstColumn = line.dropFirst(2).prefix { $0 != "|" }
            names.formUnion(matches(of: #/`(SIGIL_[A-Z0-9_]+)`/#, in: String(firstColumn)))
        }
        return names
    }

    @Test("every variable a service reads has a row in the README's table")
    func servicesDocumented() throws {
        let read = try Self.variablesRead(under: ["Shared", "Services"])
        let table = try Self.tableVariables()
        #expect(read.count > 30, "the scan found too few variables to be right: \(read.sorted())")
        #expect(read.subtracting(table).isEmpty, "read but not in README's table: \(read.subtracting(table).sorted())")
    }

    @Test("every row of the table names a variable something reads")
    func noStaleRows() throws {
        let read = try Self.variablesRead(under: ["Shared", "Services", "Tools"])
        let table = try Self.tableVariables()
        #expect(
            table.subtracting(read).isEmpty, "in README's table but read nowhere: \(table.subtracting(read).sorted())")
    }
}
