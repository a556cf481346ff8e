import ArgumentParser

/// `sigil edge token`: an edge's own credential (role `edge`), so no edge ever holds the tenant's admin token.
struct EdgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edge",
        abstract: "Edge credentials.",
        subcommands: [EdgeToken.self]
    )
}

struct EdgeToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Print a new edge credential (role `edge`) as SIGIL_EDGE_ROLE_TOKEN=…",
        discussion: """
            Give the printed line to one edge (its environment or secret). With it the edge's status endpoint
            (/v1/edge/status) answers to that token; it opens nothing on any admin API. An edge refuses to start
            with SIGIL_ADMIN_TOKEN or SIGIL_AUDITOR_TOKEN in its environment.
            """
    )

    func run() async throws {
        print("SIGIL_EDGE_ROLE_TOKEN=\(DevSecret.generate())")
    }
}
