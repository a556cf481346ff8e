import Configuration
import Foundation
import SystemPackage

/// Reads Sigil's settings: environment variables first, then the `KEY=VALUE` file named by `SIGIL_CONFIG_FILE`
/// (the same format as `.sigil/dev/env`). Keys are written as environment variable names.
public struct ConfigurationSource: Sendable {
    private let reader: ConfigReader

    /// Values that are secrets and must never be printed by the configuration library's diagnostics.
    static let secretKeys: Set<String> = [
        "SIGIL_ADMIN_TOKEN", "SIGIL_AUDITOR_TOKEN", "SIGIL_POSTGRES_URL", "SIGIL_KEK", "SIGIL_SIGNING_KEY",
        "SIGIL_AUDIT_KEK", "SIGIL_POLICY_KEK", "SIGIL_ATTEST_PRIVATE_KEY", "SIGIL_EDGE_ROLE_TOKEN",
    ]

    public init(environment: [String: String]) async throws {
        var providers: [any ConfigProvider] = [
            EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .specific(Self.secretKeys)
            )
        ]
        if let file = environment["SIGIL_CONFIG_FILE"], !file.isEmpty {
            providers.append(
                try await EnvironmentVariablesProvider(
                    environmentFilePath: FilePath(file),
                    allowMissing: false,
                    secretsSpecifier: .specific(Self.secretKeys)
                )
            )
        }
        reader = ConfigReader(providers: providers)
    }

    /// The value of `SIGIL_FOO_BAR`, if set and not empty.
    public func string(_ name: String) -> String? {
        let value = reader.string(forKey: Self.key(name), isSecret: Self.secretKeys.contains(name))
        return value?.isEmpty == false ? value : nil
    }

    public func string(_ name: String, default defaultValue: String) -> String {
        string(name) ?? defaultValue
    }

    /// An integer within bounds; a value that is set but unusable is an error, never silently the default.
    public func int(
        _ name: String, default defaultValue: Int, in range: ClosedRange<Int>
    ) throws(ConfigurationError) -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(key: name, expected: "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// Base64 bytes of an exact length (keys); a value that is set but unusable is an error.
    public func key(_ name: String, bytes: Int) throws(ConfigurationError) -> [UInt8]? {
        guard let text = string(name) else { return nil }
        guard let data = Data(base64Encoded: text), data.count == bytes else {
            throw ConfigurationError(key: name, expected: "\(bytes) bytes, base64-encoded")
        }
        return Array(data)
    }

    public func oneOf(
        _ name: String, _ choices: [String], default defaultValue: String
    ) throws(ConfigurationError) -> String {
        let value = string(name, default: defaultValue)
        guard choices.contains(value) else {
            throw ConfigurationError(key: name, expected: "one of \(choices.joined(separator: ", "))")
        }
        return value
    }

    /// A directory a service confines some files to (`SIGIL_AUDIT_FILE_DIR`, `SIGIL_ATTEST_JWKS_DIR`): absolute,
    /// without `..`, no trailing slash; nil when unset (the feature is off).
    public func directory(_ name: String) throws(ConfigurationError) -> String? {
        guard let directory = string(name) else { return nil }
        guard directory.hasPrefix("/"), !directory.split(separator: "/").contains("..") else {
            throw ConfigurationError(key: name, expected: "an absolute path without '..'")
        }
        return directory.hasSuffix("/") && directory.count > 1 ? String(directory.dropLast()) : directory
    }

    /// `SIGIL_KAFKA_BROKERS` → the configuration key `sigil.kafka.brokers`, which the environment provider maps back.
    private static func key(_ name: String) -> ConfigKey {
        ConfigKey(name.lowercased().split(separator: "_").map(String.init))
    }
}
