import ArgumentParser

/// `sigil-bench`: the control-plane side of `make bench` (bench/run.sh drives nginx, wrk and curl): configures the
/// running constellation for the benchmark upstream and measures the cold access flow and single flight through the
/// edge. Prints one JSON object per measurement, for the script's table.
@main
struct SigilBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil-bench",
        abstract: "Benchmark steps that need the control plane (used by `make bench`).",
        subcommands: [
            BenchSetup.self, BenchCold.self, BenchSingleFlight.self, BenchEdgeStart.self, BenchAudit.self,
            BenchVerify.self, BenchPolicy.self,
        ]
    )
}
