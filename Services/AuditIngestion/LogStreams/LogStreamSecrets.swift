import SigilCrypto
import SigilEvents
import SigilService

/// The secrets of log streams (a Splunk HEC token, a webhook's signing secret): encrypted at admission with a key
/// derived per tenant from the audit service's own key-encryption key (`SIGIL_AUDIT_KEK`), bound to the stream and
/// field, stored and published only encrypted, decrypted only to deliver.
struct LogStreamSecrets: Sendable {
    let kek: KeyEncryptionKey

    static let purpose = "log-streams"

    /// `SIGIL_AUDIT_KEK` (32 bytes base64) and `SIGIL_AUDIT_KEK_ID`; nil when unset (streams with secrets are then
    /// refused at admission and not delivered).
    static func configured(_ configuration: ServiceConfiguration) throws -> LogStreamSecrets? {
        guard let material = try configuration.source.key("SIGIL_AUDIT_KEK", bytes: 32) else { return nil }
        let keyID = configuration.source.string("SIGIL_AUDIT_KEK_ID", default: "audit-kek-1")
        return LogStreamSecrets(kek: try KeyEncryptionKey(keyID: keyID, material: material))
    }

    static func field(stream: String, _ name: String) -> String { "LogStream/\(stream)/\(name)" }

    /// The stored form of a secret field: `clear` encrypted, or `encrypted` as given back by `sigil get` (checked to
    /// be this stream's). Exactly one of them.
    static func admit(
        clear: String?, encrypted: EncryptedValue?, field: String, admission: Admission<LogStreamSpec>
    ) throws -> EncryptedValue {
        guard let secrets = try configured(admission.context.configuration) else {
            throw ProblemDetails.invalidField(
                "spec.destination.type",
                "this audit service has no SIGIL_AUDIT_KEK to keep the destination's secret with")
        }
        let key = secrets.kek.derivedDataKey(tenant: admission.tenant, purpose: purpose)
        let binding = Self.field(stream: admission.name, field)
        switch (clear, encrypted) {
        case (let secret?, nil):
            return try key.encrypt(Array(secret.utf8), field: binding)
        case (nil, let stored?):
            guard (try? key.decrypt(stored, field: binding)) != nil else {
                throw ProblemDetails.invalidField(
                    "spec.destination.\(field)Encrypted",
                    "spec.destination.\(field)Encrypted was not encrypted for this log stream")
            }
            return stored
        default:
            throw ProblemDetails.invalidField(
                "spec.destination.\(field)",
                "give exactly one of spec.destination.\(field) and spec.destination.\(field)Encrypted (as stored)")
        }
    }

    func decrypt(_ value: EncryptedValue, tenant: String, stream: String, field: String) throws -> String {
        let key = kek.derivedDataKey(tenant: tenant, purpose: Self.purpose)
        return String(decoding: try key.decrypt(value, field: Self.field(stream: stream, field)), as: UTF8.self)
    }
}
