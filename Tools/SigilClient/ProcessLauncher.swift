import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Starts background processes in their own session (so they outlive `sigil dev up --detach` and a closed
/// terminal), with output appended to a log file, and stops them by pid.
public enum ProcessLauncher {
    public struct LaunchError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func launch(
        executable: String,
        arguments: [String],
        environment: [String: String],
        logFile: String,
        newSession: Bool = true
    ) throws -> pid_t {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The child starts with no signal blocked and default dispositions, whatever the parent had (a test runner
        // blocks most signals on its threads; a child inheriting that mask would never see SIGINT or SIGTERM).
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        // glibc's POSIX_SPAWN_SETSID (0x80) is only declared under _GNU_SOURCE, so Swift does not import it.
        let flags = Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF) | (newSession ? 0x80 : 0)
        posix_spawnattr_setflags(&attributes, flags)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }

        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &fileActions, &attributes, argv, envp)
        guard result == 0 else {
            throw LaunchError(description: "cannot start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }

    public static func isAlive(_ pid: pid_t) -> Bool {
        guard pid > 0 else { return false }
        // Reap it if it is our exited child, so a zombie does not count as alive.
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { return false }
        return kill(pid, 0) == 0
    }

    /// SIGTERM, then SIGKILL for whatever is still alive after the grace period. Returns the pids that needed it.
    @discardableResult
    public static func stop(_ pids: [pid_t], grace: Duration = .seconds(15)) async -> [pid_t] {
        for pid in pids where isAlive(pid) { kill(pid, SIGTERM) }
        let deadline = ContinuousClock.now + grace
        while ContinuousClock.now < deadline, pids.contains(where: isAlive) {
            try? await Task.sleep(for: .milliseconds(100))
        }
        let stubborn = pids.filter(isAlive)
        for pid in stubborn { kill(pid, SIGKILL) }
        // Gone before this returns: a caller that checks right after (or starts another on its port) must not find it.
        let killed = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < killed, stubborn.contains(where: isAlive) {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return stubborn
    }

    /// The directory of the running `sigil` executable, where `swift build` puts the service executables too.
    public static var executableDirectory: String {
        let path =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: path).deletingLastPathComponent().path
    }

    /// Runs a command to completion; returns its exit status and combined output. (Foundation's `Process` is not
    /// used: its `waitUntilExit` can stall inside an async command on Linux.)
    public static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> (status: Int32, output: String) {
        let outputFile = NSTemporaryDirectory() + "sigil-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: outputFile) }
        let pid = try launch(
            executable: executable,
            arguments: arguments,
            environment: environment,
            logFile: outputFile,
            newSession: false
        )
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let output = (try? String(contentsOfFile: outputFile, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0
        return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
    }

    /// `run` on a thread of its own, so waiting for the command never holds a cooperative thread.
    public static func runDetached(
        _ executable: String, _ arguments: [String]
    ) async throws -> (status: Int32, output: String) {
        try await withCheckedThrowingContinuation { continuation in
            Thread {
                do {
                    continuation.resume(returning: try run(executable, arguments))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
    }
}
