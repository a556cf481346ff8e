import SigilCrypto
import SigilEvents
import SigilService

/// The secrets of log streams (a Splunk HEC token, a webhook's signing secret): `ResourceSecrets` under the audit
/// service's own key-encryption key, `SIGIL_AUDIT_KEK` (`SIGIL_AUDIT_KEK_ID`).
struct LogStreamSecrets: Sendable {
    let secrets: ResourceSecrets

    static let setting = "SIGIL_AUDIT_KEK"
    static let purpose = "log-streams"

    init(secrets: ResourceSecrets) { self.secrets = secrets }

    init(kek: KeyEncryptionKey) { secrets = ResourceSecrets(kek: kek, setting: Self.setting, purpose: Self.purpose) }

    /// Nil when `SIGIL_AUDIT_KEK` is unset (streams with secrets are then refused at admission and not delivered).
    static func configured(_ configuration: ServiceConfiguration) throws -> LogStreamSecrets? {
        try ResourceSecrets.configured(
            configuration, setting: setting, keyIDSetting: "SIGIL_AUDIT_KEK_ID", defaultKeyID: "audit-kek-1",
            purpose: purpose
        ).map(LogStreamSecrets.init(secrets:))
    }

    /// The stored form of a destination's secret field: `clear` encrypted, or `encrypted` (as stored) checked.
    static func admit(
        clear: String?, encrypted: EncryptedValue?, field: String, admission: Admission<LogStreamSpec>
    ) throws -> EncryptedValue {
        try ResourceSecrets.admit(
            try configured(admission.context.configuration)?.secrets, setting: setting, clear: clear,
            encrypted: encrypted, kind: .logStream, tenant: admission.tenant, name: admission.name, field: field,
            at: "spec.destination")
    }

    static func field(stream: String, _ name: String) -> String { ResourceSecrets.binding(.logStream, stream, name) }

    func decrypt(_ value: EncryptedValue, tenant: String, stream: String, field: String) throws -> String {
        try secrets.decrypt(value, tenant: tenant, kind: .logStream, name: stream, field: field)
    }
}
