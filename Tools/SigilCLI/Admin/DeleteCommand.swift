import ArgumentParser
import Foundation
import SigilClient

/// `sigil delete -f FILE` or `sigil delete KIND NAME`: deletes resources; one still named by another resource of the
/// set is deleted after it.
struct DeleteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete the resources of a YAML file, or one resource by kind and name.",
        discussion: "A resource that others still name is refused (409) with their names, unless they go too."
    )

    @Option(name: .shortAndLong, help: "The YAML file; '-' reads standard input.") var file: String?
    @Argument(help: "A kind (\(AdminClient.kindNames)) and a name, instead of a file.") var resource: [String] = []
    @Flag(help: "Check and show what would be deleted, without deleting.") var dryRun = false
    @Flag(help: "A resource that does not exist is not an error.") var ignoreNotFound = false

    func validate() throws {
        guard (file == nil) != resource.isEmpty, resource.isEmpty || resource.count == 2 else {
            throw ValidationError("give either -f FILE or KIND NAME")
        }
    }

    func run() async throws {
        let documents: [ResourceDocument]
        if let file {
            documents = try ResourceDocument.parse(try ApplyCommand.read(file), file: file)
        } else {
            let kind = try AdminClient.kind(named: resource[0])
            documents = [ResourceDocument(kind: kind, name: resource[1], spec: [:])]
        }
        let results = try await AdminClient().delete(documents, dryRun: dryRun)
        ApplyCommand.report(results, dryRun: dryRun)
        if results.contains(where: { $0.refused && !(ignoreNotFound && $0.status == 404) }) { throw ExitCode(1) }
    }
}
