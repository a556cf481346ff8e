import SigilCrypto
import SigilEvents

/// The secret fields of resources a service keeps for itself (a log stream's HEC token, a posture feed's client
/// secret): encrypted at admission with a key derived per tenant from that service's own key-encryption key (`setting`,
/// e.g. `SIGIL_AUDIT_KEK`), bound to kind, resource and field; stored and published only encrypted, decrypted only to
/// be used. A field is written `secret` (clear, write-only) or given back as `secretEncrypted` (as `sigil get` shows
/// it), never both.
public struct ResourceSecrets: Sendable {
    public let kek: KeyEncryptionKey
    /// The KEK's setting, named in refusals.
    public let setting: String
    let purpose: String

    public init(kek: KeyEncryptionKey, setting: String, purpose: String) {
        self.kek = kek
        self.setting = setting
        self.purpose = purpose
    }

    /// `setting` (32 bytes base64) and its id (`keyIDSetting`); nil when unset (resources with secrets are then
    /// refused at admission and not used).
    public static func configured(
        _ configuration: ServiceConfiguration, setting: String, keyIDSetting: String, defaultKeyID: String,
        purpose: String
    ) throws -> ResourceSecrets? {
        guard let material = try configuration.source.key(setting, bytes: 32) else { return nil }
        let keyID = configuration.source.string(keyIDSetting, default: defaultKeyID)
        return ResourceSecrets(
            kek: try KeyEncryptionKey(keyID: keyID, material: material), setting: setting, purpose: purpose)
    }

    /// What a secret is bound to (its associated data): kind, resource and field.
    public static func binding(_ kind: ResourceKind, _ name: String, _ field: String) -> String {
        "\(kind.rawValue)/\(name)/\(field)"
    }

    /// The stored form of a secret field at `path` (`spec.destination`): `clear` encrypted, or `encrypted` checked to
    /// be this resource's. `secrets` nil (no KEK configured) refuses, naming the setting.
    public static func admit(
        _ secrets: ResourceSecrets?, setting: String, clear: String?, encrypted: EncryptedValue?, kind: ResourceKind,
        tenant: String, name: String, field: String, at path: String
    ) throws -> EncryptedValue {
        guard let secrets else {
            throw ProblemDetails.invalidField(
                "\(path).\(field)", "this service has no \(setting) to keep \(path).\(field) with")
        }
        let key = secrets.kek.derivedDataKey(tenant: tenant, purpose: secrets.purpose)
        let binding = binding(kind, name, field)
        switch (clear, encrypted) {
        case (let secret?, nil):
            return try key.encrypt(Array(secret.utf8), field: binding)
        case (nil, let stored?):
            guard (try? key.decrypt(stored, field: binding)) != nil else {
                throw ProblemDetails.invalidField(
                    "\(path).\(field)Encrypted", "\(path).\(field)Encrypted was not encrypted for this \(kind.rawValue)"
                )
            }
            return stored
        default:
            throw ProblemDetails.invalidField(
                "\(path).\(field)",
                "give exactly one of \(path).\(field) and \(path).\(field)Encrypted (as stored)")
        }
    }

    public func decrypt(
        _ value: EncryptedValue, tenant: String, kind: ResourceKind, name: String, field: String
    ) throws -> String {
        let key = kek.derivedDataKey(tenant: tenant, purpose: purpose)
        return String(decoding: try key.decrypt(value, field: Self.binding(kind, name, field)), as: UTF8.self)
    }
}
