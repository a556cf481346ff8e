import SigilCrypto
import SigilService

/// A credential provider's secret field (a static value, an OAuth client secret): encrypted with the tenant's data key
/// at admission, bound to the provider and field so a ciphertext cannot be moved to another; given either in clear
/// (`value`, write-only) or back as stored (`valueEncrypted`, what `sigil get` shows).
enum TenantSecret {
    static func binding(provider: String, field: String) -> String { "CredentialProvider/\(provider)/\(field)" }

    /// The stored form of the field. The same secret applied again keeps its ciphertext (re-applying a file changes
    /// nothing).
    static func admit(
        clear: String?, encrypted: EncryptedValue?, current: EncryptedValue?, field: String,
        admission: Admission<CredentialProviderSpec>
    ) async throws -> EncryptedValue {
        let keyring = try IssuanceParts.keyring.get(admission.context)
        let binding = binding(provider: admission.name, field: field)
        switch (clear, encrypted) {
        case (let secret?, nil):
            if let current,
                (try? keyring.decrypt(current, tenant: admission.tenant, field: binding)) == Array(secret.utf8)
            {
                return current
            }
            let key = try await keyring.currentKey(tenant: admission.tenant, context: admission.context)
            return try key.encrypt(Array(secret.utf8), field: binding)
        case (nil, let encrypted?):
            guard (try? keyring.decrypt(encrypted, tenant: admission.tenant, field: binding)) != nil else {
                throw ProblemDetails.invalidField(
                    "spec.\(field)Encrypted", "spec.\(field)Encrypted was not encrypted for this credential provider")
            }
            return encrypted
        default:
            throw ProblemDetails.invalidField(
                "spec.\(field)", "give exactly one of spec.\(field) (the secret) and spec.\(field)Encrypted (as stored)"
            )
        }
    }
}
