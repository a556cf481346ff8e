import Crypto
import Foundation
import SigilEvents

/// The key-encryption key given to `sigil-issue` at start. It only wraps and unwraps tenant data keys.
public struct KeyEncryptionKey: Sendable {
    public let keyID: String
    private let key: SymmetricKey

    /// `material` must be 32 bytes (AES-256).
    public init(keyID: String, material: [UInt8]) throws(SigilCryptoError) {
        guard material.count == 32 else { throw SigilCryptoError(.malformed, "a key-encryption key is 32 bytes") }
        self.keyID = keyID
        self.key = SymmetricKey(data: material)
    }

    /// Wraps a tenant's data key (AES-GCM; the tenant and key ids are authenticated, so a wrapped key cannot be
    /// moved to another tenant).
    public func wrap(_ dataKey: TenantDataKey) throws -> WrappedDataKey {
        let material = dataKey.key.withUnsafeBytes { Array($0) }
        let sealed = try AES.GCM.seal(material, using: key, authenticating: Self.binding(dataKey.tenant, dataKey.keyID))
        return WrappedDataKey(
            kekID: keyID, tenant: dataKey.tenant, keyID: dataKey.keyID, sealed: Array(sealed.combined!))
    }

    public func unwrap(_ wrapped: WrappedDataKey) throws(SigilCryptoError) -> TenantDataKey {
        guard wrapped.kekID == keyID else {
            throw SigilCryptoError(.unknownKey, "data key wrapped by key-encryption key \(wrapped.kekID)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: wrapped.sealed)
            let material = try AES.GCM.open(
                box, using: key, authenticating: Self.binding(wrapped.tenant, wrapped.keyID))
            return TenantDataKey(tenant: wrapped.tenant, keyID: wrapped.keyID, key: SymmetricKey(data: material))
        } catch {
            throw SigilCryptoError(.authenticationFailed, "wrapped data key \(wrapped.keyID) does not unwrap")
        }
    }

    /// A tenant's data key derived from this key (HKDF-SHA256 over the tenant and a purpose), for a service that
    /// keeps a few secrets of its own and publishes no wrapped keys (the audit service's log-stream tokens). Its key
    /// id names this key, so a value encrypted under another key-encryption key is told apart, not misread.
    public func derivedDataKey(tenant: String, purpose: String) -> TenantDataKey {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Array("sigil-derived-data-key-v1".utf8),
            info: Array("\(purpose)\u{0}\(tenant)".utf8), outputByteCount: 32)
        return TenantDataKey(tenant: tenant, keyID: "\(keyID)/\(purpose)", key: derived)
    }

    private static func binding(_ tenant: String, _ keyID: String) -> [UInt8] { Array("\(tenant)\u{0}\(keyID)".utf8) }
}

/// A data key wrapped by a key-encryption key: safe to store and to put on the bus.
public struct WrappedDataKey: Sendable, Codable, Hashable {
    public let kekID: String
    public let tenant: String
    public let keyID: String
    public let sealed: [UInt8]

    public init(kekID: String, tenant: String, keyID: String, sealed: [UInt8]) {
        self.kekID = kekID
        self.tenant = tenant
        self.keyID = keyID
        self.sealed = sealed
    }
}

/// A tenant's data key (AES-256-GCM). Destroying every copy crypto-shreds what it encrypted.
public struct TenantDataKey: Sendable {
    public let tenant: String
    public let keyID: String
    fileprivate let key: SymmetricKey

    public init(tenant: String, keyID: String = "dk-" + UUIDv7.generate()) {
        self.init(tenant: tenant, keyID: keyID, key: SymmetricKey(size: .bits256))
    }

    fileprivate init(tenant: String, keyID: String, key: SymmetricKey) {
        self.tenant = tenant
        self.keyID = keyID
        self.key = key
    }

    /// Encrypts a secret value; `field` names what it is (e.g. `credential-provider/billing-api/apiKey`) and is
    /// authenticated, so ciphertexts cannot be swapped between fields or tenants.
    public func encrypt(_ plaintext: [UInt8], field: String) throws -> EncryptedValue {
        let sealed = try AES.GCM.seal(plaintext, using: key, authenticating: binding(field))
        return EncryptedValue(keyID: keyID, sealed: Array(sealed.combined!))
    }

    public func decrypt(_ value: EncryptedValue, field: String) throws(SigilCryptoError) -> [UInt8] {
        guard value.keyID == keyID else {
            throw SigilCryptoError(.unknownKey, "encrypted with data key \(value.keyID)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: value.sealed)
            return Array(try AES.GCM.open(box, using: key, authenticating: binding(field)))
        } catch {
            throw SigilCryptoError(.authenticationFailed, "encrypted value for \(field) does not decrypt")
        }
    }

    private func binding(_ field: String) -> [UInt8] { Array("\(tenant)\u{0}\(field)".utf8) }

    /// 32 bytes derived from the data key for one purpose (HKDF-SHA256): the material of keys every replica must
    /// hold alike without storing them (a tenant's JWT signing key of one period). Gone with the data key.
    public func derivedSeed(_ purpose: String) -> [UInt8] {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Array("sigil-derived-seed-v1".utf8),
            info: Array("\(purpose)\u{0}\(tenant)\u{0}\(keyID)".utf8), outputByteCount: 32
        ).withUnsafeBytes { Array($0) }
    }
}

/// A secret encrypted with a tenant data key, as stored: `v1:<keyID>:<base64 nonce|ciphertext|tag>`.
public struct EncryptedValue: Sendable, Hashable, Codable, CustomStringConvertible {
    public let keyID: String
    public let sealed: [UInt8]

    public init(keyID: String, sealed: [UInt8]) {
        self.keyID = keyID
        self.sealed = sealed
    }

    public init(parsing text: String) throws(SigilCryptoError) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", !parts[1].isEmpty, let data = Data(base64Encoded: String(parts[2]))
        else { throw SigilCryptoError(.malformed, "not an encrypted value") }
        self.init(keyID: String(parts[1]), sealed: Array(data))
    }

    public var description: String { "v1:\(keyID):\(Data(sealed).base64EncodedString())" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self = try EncryptedValue(parsing: text)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
