import ArgumentParser

#if canImport(Glibc)
    @preconcurrency import Glibc
#endif

/// `sigil demo`: the secretless flow on the local constellation (`run`, the default), and the three parts of the
/// docker-compose demo (`upstream`, `issuer`, `workload`).
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Show a secretless access flow: on the local constellation, or as the docker-compose demo's parts.",
        subcommands: [DemoRun.self, DemoUpstreamCommand.self, DemoIssuerCommand.self, DemoWorkloadCommand.self],
        defaultSubcommand: DemoRun.self
    )
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
}

/// Standard output a line at a time: a container's log is a pipe, and a long-running demo part must show each line
/// as it happens, not when a buffer fills.
func lineBufferedOutput() {
    // glibc's `stdout` is a C global the compiler cannot prove safe; it is only read here, before anything prints.
    setlinebuf(stdout)
}
