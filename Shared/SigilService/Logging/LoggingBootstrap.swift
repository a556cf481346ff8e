import Logging
import Synchronization

/// Installs the process-wide log handler once (swift-log allows one bootstrap per process).
public enum LoggingBootstrap {
    private static let done = Mutex(false)

    public static func bootstrap(format: LogFormat, level: Logger.Level) {
        let first = done.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler
            switch format {
            case .console: handler = StreamLogHandler.standardError(label: label)
            case .json: handler = JSONLogHandler(label: label)
            }
            handler.logLevel = level
            return handler
        }
    }
}
