/// How services write logs: readable lines for a terminal, or one JSON object per line for containers.
public enum LogFormat: String, Sendable {
    case console
    case json
}
