import Foundation
import PostgresNIO

/// `postgres://user:password@host:port/database?sslmode=disable|prefer|require` into a client configuration.
/// Errors name the part that is wrong, never the password.
public enum PostgresURL {
    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public static func configuration(_ url: String) throws(Invalid) -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url), ["postgres", "postgresql"].contains(components.scheme)
        else { throw Invalid(description: "SIGIL_POSTGRES_URL must be a postgres:// URL") }
        guard let host = components.host, !host.isEmpty else {
            throw Invalid(description: "SIGIL_POSTGRES_URL has no host")
        }
        guard let user = components.user, !user.isEmpty else {
            throw Invalid(description: "SIGIL_POSTGRES_URL has no user")
        }
        let database = components.path.split(separator: "/").first.map(String.init)
        let sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "prefer"
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw Invalid(description: "SIGIL_POSTGRES_URL sslmode must be disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host,
            port: components.port ?? 5432,
            username: user.removingPercentEncoding ?? user,
            password: components.password.map { $0.removingPercentEncoding ?? $0 },
            database: database ?? user,
            tls: tls
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The URL with its password replaced, for logs and status output.
    public static func redacted(_ url: String) -> String {
        guard var components = URLComponents(string: url) else { return "(invalid URL)" }
        if components.password != nil { components.password = "REDACTED" }
        return components.string ?? "(invalid URL)"
    }
}
