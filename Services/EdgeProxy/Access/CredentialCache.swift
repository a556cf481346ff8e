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
    /// The access policy and server workload it was granted under (nil from an issuer that did not say).
    let accessPolicy: String?
    let serverWorkload: String?

    init(
        requestID: String, headerName: String, headerValue: String, obtainedAt: Date, expiresAt: Date,
        accessPolicy: String? = nil, serverWorkload: String? = nil
    ) {
        self.accessPolicy = accessPolicy
        self.serverWorkload = serverWorkload
        self.requestID = requestID
        self.headerName = headerName
        self.headerValue = headerValue
        self.obtainedAt = obtainedAt
        self.expiresAt = expiresAt
        self.refreshAt = obtainedAt.addingTimeInterval(max(0, expiresAt.timeIntervalSince(obtainedAt)) * 0.8)
    }

    /// The header for an issued credential: `header` (named by the provider, default `Authorization`) or `bearer`.
    convenience init(
        requestID: String, inject: String, header: String?, value: String, obtainedAt: Date, expiresAt: Date,
        accessPolicy: String? = nil, serverWorkload: String? = nil
    ) {
        let name = inject == "header" ? (header ?? "Authorization") : "Authorization"
        self.init(
            requestID: requestID, headerName: name, headerValue: inject == "bearer" ? "Bearer \(value)" : value,
            obtainedAt: obtainedAt, expiresAt: expiresAt, accessPolicy: accessPolicy, serverWorkload: serverWorkload)
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

/// Which credential: one per server workload, per workload evidence (a different token never reuses another's
/// credential; a rotated token obtains its own) and per selection of the request attributes its policies examine.
struct CredentialKey: Hashable, Sendable {
    let serverWorkload: String
    let evidenceDigest: String
    var selection = RequestSelection.none
}

/// The credentials the edge holds, read without a lock; replaced whole on the rare write.
final class CredentialCache: Sendable {
    private let entries = Snapshot<[CredentialKey: HeldCredential]>([:])
    private let revocationCount = ManagedAtomic<Int>(0)

    /// How many revocations there have been: a credential requested before one is not kept after it.
    var revocations: Int { revocationCount.load(ordering: .acquiring) }

    /// The credential for `key` if it has not expired (it may be due for refresh: see `HeldCredential.refreshAt`).
    func usable(_ key: CredentialKey, at now: Date = Date()) -> HeldCredential? {
        guard let held = entries.value[key], now < held.expiresAt else { return nil }
        return held
    }

    /// Stores a credential and drops every expired one; not if a revocation came since `revocations` (read when it
    /// was requested).
    func store(
        _ credential: HeldCredential, for key: CredentialKey, at now: Date = Date(),
        unlessRevokedSince revocations: Int? = nil
    ) {
        entries.update { entries in
            entries = entries.filter { now < $0.value.expiresAt }
            if let revocations, revocations != self.revocations { return }
            entries[key] = credential
        }
    }

    func remove(_ key: CredentialKey) {
        entries.update { $0.removeValue(forKey: key) }
    }

    /// Drops every credential a configuration change may no longer grant; returns how many. The next request for
    /// each is decided again.
    @discardableResult
    func revoke(_ change: AccessChange) -> Int {
        var revoked = 0
        // Counted first: a credential being stored concurrently either sees the count move (and is not kept) or is
        // stored before the filter below, which then drops it.
        revocationCount.wrappingIncrement(ordering: .releasing)
        entries.update { entries in
            let before = entries.count
            entries = entries.filter { !change.affects($0.value) }
            revoked = before - entries.count
        }
        return revoked
    }

    var count: Int { entries.value.count }
}

/// A configuration change that may withdraw access already granted (continuous evaluation).
enum AccessChange: Sendable, Equatable {
    /// An access policy was changed or removed: the credentials granted under it.
    case accessPolicy(String)
    /// A server workload was changed or removed: the credentials for it.
    case serverWorkload(String)
    /// A client workload or trust provider changed: who a workload is may have changed, so every credential.
    case identities

    func affects(_ credential: HeldCredential) -> Bool {
        switch self {
        case .accessPolicy(let name): credential.accessPolicy == nil || credential.accessPolicy == name
        case .serverWorkload(let name): credential.serverWorkload == nil || credential.serverWorkload == name
        case .identities: true
        }
    }
}
