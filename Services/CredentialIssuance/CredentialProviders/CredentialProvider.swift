import Foundation
import SigilCrypto
import SigilEvents
import SigilService

/// A credential provider of type `static`: one API key or token, stored only encrypted with the tenant's data key,
/// injected as a named header or as `Authorization: Bearer`.
struct CredentialProvider: Sendable {
    let name: String
    let inject: String
    let header: String?
    let value: EncryptedValue

    static func field(_ name: String) -> String { "CredentialProvider/\(name)/value" }

    static func validate(
        _ spec: JSONValue, tenant: String, name: String, keyring: TenantKeyring, context: ServiceContext
    ) async throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly(["type", "value", "inject", "header"])
        _ = try reader.oneOf("type", ["static"])
        let inject = try reader.oneOf("inject", ["header", "bearer"], default: "bearer")
        var normalized: [String: JSONValue] = ["type": .string("static"), "inject": .string(inject)]
        if inject == "header" {
            let header = try reader.string("header")
            guard header.utf8.allSatisfy({ (0x21...0x7E).contains($0) && $0 != UInt8(ascii: ":") }) else {
                throw ProblemDetails.invalidField("spec.header", "spec.header must be an HTTP header name")
            }
            normalized["header"] = .string(header)
        }
        let secret = try reader.string("value")
        guard secret.utf8.count <= 8_192, !secret.contains(where: { $0 == "\r" || $0 == "\n" }) else {
            throw ProblemDetails.invalidField("spec.value", "spec.value must be one line of at most 8 KiB")
        }
        let key = try await keyring.currentKey(tenant: tenant, context: context)
        normalized["valueEncrypted"] = .string(try key.encrypt(Array(secret.utf8), field: field(name)).description)
        return .object(normalized)
    }

    init?(_ resource: StoredResource) {
        guard let inject = resource.spec["inject"]?.stringValue,
            let text = resource.spec["valueEncrypted"]?.stringValue,
            let value = try? EncryptedValue(parsing: text)
        else { return nil }
        self.name = resource.name
        self.inject = inject
        self.header = resource.spec["header"]?.stringValue
        self.value = value
    }
}

/// What the edge receives, sealed: how to inject and the value.
struct IssuedCredential: Codable, Sendable {
    let inject: String
    let header: String?
    let value: String
}
