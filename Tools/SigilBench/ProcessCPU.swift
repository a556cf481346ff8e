import Foundation

/// CPU time used by processes, read from `/proc` (user + system time): where a closed-loop measurement on a shared
/// machine spent its cores.
enum ProcessCPU {
    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// A process's parent and CPU seconds so far; nil when it is gone.
    private static func stat(_ pid: Int) -> (parent: Int, seconds: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let end = text.lastIndex(of: ")")
        else { return nil }
        // After the command's closing parenthesis: state, ppid, ... utime (14th field) and stime (15th).
        let fields = text[text.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let parent = Int(fields[1]), let user = Double(fields[11]),
            let system = Double(fields[12])
        else { return nil }
        return (parent, (user + system) / ticksPerSecond)
    }

    static func seconds(of pid: Int) -> Double { stat(pid)?.seconds ?? 0 }

    /// A process and its children (PostgreSQL's postmaster and its backends).
    static func seconds(ofTree root: Int) -> Double {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int($0) } ?? []
        return pids.reduce(0) { total, pid in
            guard let stat = stat(pid), pid == root || stat.parent == root else { return total }
            return total + stat.seconds
        }
    }

    /// CPU seconds the whole machine was busy (every core; neither idle nor waiting for I/O).
    static func machineBusy() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first
        else { return 0 }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 5 else { return 0 }
        return (ticks.reduce(0, +) - ticks[3] - ticks[4]) / ticksPerSecond
    }
}
