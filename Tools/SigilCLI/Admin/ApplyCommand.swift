import ArgumentParser
import Foundation
import SigilClient

/// `sigil apply -f FILE`: creates or replaces every resource of a multi-document YAML file at its owning service, in
/// any order (a document naming one not yet created is applied after it). Each service gets its documents as sets of
/// up to 1,000, each written as one signed batch. Applying the same file again changes nothing and writes no event.
struct ApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Create or replace resources from a YAML file (\(AdminClient.kindNames)).",
        discussion: "Each line says what happened: created, updated, unchanged, or refused with the reason."
    )

    @Option(name: .shortAndLong, help: "The YAML file; '-' reads standard input.") var file: String
    @Flag(help: "Check every document and show what would change, without changing anything.") var dryRun = false

    func run() async throws {
        let documents = try ResourceDocument.parse(try Self.read(file), file: file)
        try await Self.apply(documents, client: AdminClient(), dryRun: dryRun)
    }

    static func read(_ file: String) throws -> String {
        if file == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        return try String(contentsOfFile: file, encoding: .utf8)
    }

    static func apply(_ documents: [ResourceDocument], client: AdminClient, dryRun: Bool = false) async throws {
        // A file of several sets shows its progress (on standard error: standard output is the per-document report).
        let results = try await client.apply(documents, dryRun: dryRun) { done, total in
            guard total > AdminClient.setItems else { return }
            FileHandle.standardError.write(Data("applied \(done) of \(total)\n".utf8))
        }
        report(results, dryRun: dryRun)
        if results.contains(where: \.refused) { throw ExitCode(1) }
    }

    static func report(_ results: [AdminClient.Result], dryRun: Bool) {
        for result in results {
            if let change = result.change {
                print("\(result.document.reference) \(change)\(dryRun ? " (dry run)" : "")")
            } else {
                print("\(result.document.reference) refused (\(result.status)): \(result.detail ?? "")")
            }
        }
    }
}
