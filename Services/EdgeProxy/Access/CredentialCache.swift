import Atomics
import Foundation
import SigilEvents

/// A credential the edge holds, decrypted, in memory only, with the header it becomes.
final class HeldCredential: Sendable {
    /// The access request that obtained it (reported with the requests it is used for).
    let requestID: String
    /// The header the credential is injected as, and its value (e.g. `Authorization: Bearer …`).
    let headerName: String
    let headerValue: String
    let obtainedAt: Date
    let expiresAt: Date
    /// When a background refresh starts: 80% of the lifetime, so steady traffic never waits for the control plane.
    let refreshAt: Date
    /// Set by the first request that finds it due for refresh, so one refresh starts, not one per request.
    let refreshClaimed = ManagedAtomic(false)

    init(requestID: String, headerName: String, headerValue: String, obtainedAt: Date, expiresAt: Date) {
        self.requestID = requestID
        self.headerName = headerName
        self.headerValue = headerValue
        self.obtainedAt = obtainedAt
        self.expiresAt = expiresAt
        self.refreshAt = obtainedAt.addingTimeInterval(max(0, expiresAt.timeIntervalSince(obtainedAt)) * 0.8)
    }

    /// The header for an issued credential: `header` (named by the provider, default `Authorization`) or `bearer`.
    convenience init(
        requestID: String, inject: String, header: String?, value: String, obtainedAt: Date, expiresAt: Date
    ) {
        let name = inject == "header" ? (header ?? "Authorization") : "Authorization"
        self.init(
            requestID: requestID, headerName: name, headerValue: inject == "bearer" ? "Bearer \(value)" : value,
            obtainedAt: obtainedAt, expiresAt: expiresAt)
    }
}

extension HeldCredential {
    /// Whether the header can be sent as it is: a field name of token characters (RFC 9110 §5.1) and a value without
    /// control characters (no CR, LF or NUL: nothing that could split a request), both of sane length. The proxy
    /// sends headers without a second validation, so a credential is checked once, here, when it arrives.
    var isSendable: Bool {
        let name = headerName.utf8
        let value = headerValue.utf8
        guard (1...256).contains(name.count), value.count <= 16 * 1024 else { return false }
        let tokenSymbols = Set("!#$%&'*+-.^_`|~".utf8)
        let nameValid = name.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || tokenSymbols.contains(byte)
        }
        return nameValid && value.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }
}

/// Which credential: one per server workload target and per workload token (a different token never reuses
/// another's credential; a rotated token obtains its own).
struct CredentialKey: Hashable, Sendable {
    let target: AccessTarget
    let evidenceDigest: String
}

/// The credentials the edge holds, read without a lock; replaced whole on the rare write.
final class CredentialCache: Sendable {
    private let entries = Snapshot<[CredentialKey: HeldCredential]>([:])

    /// The credential for `key` if it has not expired (it may be due for refresh: see `HeldCredential.refreshAt`).
    func usable(_ key: CredentialKey, at now: Date = Date()) -> HeldCredential? {
        guard let held = entries.value[key], now < held.expiresAt else { return nil }
        return held
    }

    /// Stores a credential and drops every expired one.
    func store(_ credential: HeldCredential, for key: CredentialKey, at now: Date = Date()) {
        entries.update { entries in
            entries = entries.filter { now < $0.value.expiresAt }
            entries[key] = credential
        }
    }

    func remove(_ key: CredentialKey) {
        entries.update { $0.removeValue(forKey: key) }
    }

    var count: Int { entries.value.count }
}
