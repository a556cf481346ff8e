import Atomics
import Foundation
import SigilEvents
import Synchronization

/// A credential the edge holds, decrypted, in memory only, with how it is injected: a header (`Authorization: Bearer
/// …`, `X-API-Key: …`, `Authorization: Basic …`) or a query parameter.
final class HeldCredential: Sendable {
    enum Injection: Sendable, Equatable {
        case header(name: String, value: String)
        /// `value` as it is (the edge percent-encodes it into the query).
        case query(parameter: String, value: String)
        /// Each request signed with AWS Signature Version 4 (`SigV4Signer`).
        case sigV4(AWSSigningCredentials)
        /// Nothing in the request: a client certificate in the TLS to the upstream (`upstreamTLS`).
        case clientCertificate
        /// A PostgreSQL login the edge authenticates with (SCRAM-SHA-256 or MD5) for the workload; a lease's login
        /// is for its `database` only.
        case postgres(user: String, password: String, database: String? = nil)
    }

    /// The access request that obtained it (reported with the requests it is used for).
    let requestID: String
    let injection: Injection
    let obtainedAt: Date
    let expiresAt: Date
    /// When a background refresh starts: 80% of the lifetime, so steady traffic never waits for the control plane.
    let refreshAt: Date
    /// Set by the first request that finds it due for refresh, so one refresh starts, not one per request.
    let refreshClaimed = ManagedAtomic(false)
    /// The access policy and server workload it was granted under (nil from an issuer that did not say).
    let accessPolicy: String?
    let serverWorkload: String?
    /// For an `x509` credential: the TLS that presents its client certificate to the upstream.
    let upstreamTLS: UpstreamTLS?
    /// The issuer's lease (a `postgres-dynamic` role lives as long as it).
    let leaseID: String?

    init(
        requestID: String, injection: Injection, obtainedAt: Date, expiresAt: Date, accessPolicy: String? = nil,
        serverWorkload: String? = nil, upstreamTLS: UpstreamTLS? = nil, leaseID: String? = nil
    ) {
        self.leaseID = leaseID
        self.upstreamTLS = upstreamTLS
        self.accessPolicy = accessPolicy
        self.serverWorkload = serverWorkload
        self.requestID = requestID
        self.injection = injection
        self.obtainedAt = obtainedAt
        self.expiresAt = expiresAt
        self.refreshAt = obtainedAt.addingTimeInterval(max(0, expiresAt.timeIntervalSince(obtainedAt)) * 0.8)
    }

    convenience init(
        requestID: String, headerName: String, headerValue: String, obtainedAt: Date, expiresAt: Date,
        accessPolicy: String? = nil, serverWorkload: String? = nil
    ) {
        self.init(
            requestID: requestID, injection: .header(name: headerName, value: headerValue), obtainedAt: obtainedAt,
            expiresAt: expiresAt, accessPolicy: accessPolicy, serverWorkload: serverWorkload)
    }

    /// An issued credential as its provider said to inject it: `bearer`, `header` (named, after an optional prefix),
    /// `basic` (`user:password`, base64 into `Authorization: Basic`), `query` (the named parameter) or `aws-sigv4`
    /// (temporary AWS credentials signing each request). Nil for an injection this edge does not know, or one missing
    /// its name or value.
    convenience init?(
        requestID: String, inject: String, header: String? = nil, prefix: String? = nil, parameter: String? = nil,
        value: String?, aws: AWSSigningCredentials? = nil, obtainedAt: Date, expiresAt: Date,
        accessPolicy: String? = nil, serverWorkload: String? = nil
    ) {
        let injection: Injection
        if inject == "aws-sigv4" {
            guard let aws else { return nil }
            self.init(
                requestID: requestID, injection: .sigV4(aws), obtainedAt: obtainedAt, expiresAt: expiresAt,
                accessPolicy: accessPolicy, serverWorkload: serverWorkload)
            return
        }
        guard let value else { return nil }
        switch inject {
        case "bearer": injection = .header(name: "Authorization", value: "Bearer \(value)")
        case "header":
            guard let header else { return nil }
            injection = .header(name: header, value: (prefix ?? "") + value)
        case "basic":
            injection = .header(name: "Authorization", value: "Basic " + Data(value.utf8).base64EncodedString())
        case "query":
            guard let parameter else { return nil }
            injection = .query(parameter: parameter, value: value)
        default: return nil
        }
        self.init(
            requestID: requestID, injection: injection, obtainedAt: obtainedAt, expiresAt: expiresAt,
            accessPolicy: accessPolicy, serverWorkload: serverWorkload)
    }

    /// Whether the workload's own header `name` gives way to this credential (the one it injects, or those SigV4
    /// signing sets).
    func replaces(_ name: String) -> Bool {
        switch injection {
        case .header(let injected, _): return name.equalsIgnoringCase(injected)
        case .query, .clientCertificate, .postgres: return false
        case .sigV4: return SigV4Signer.replaced.contains { name.equalsIgnoringCase($0) }
        }
    }
}

extension HeldCredential {
    /// Whether it can be sent as it is: a header field name of token characters (RFC 9110 §5.1) and a value without
    /// control characters (no CR, LF or NUL: nothing that could split a request), both of sane length; a query
    /// parameter named by unreserved characters (its value is percent-encoded when sent). The proxy sends them
    /// without a second validation, so a credential is checked once, here, when it arrives.
    var isSendable: Bool {
        switch injection {
        case .header(let name, let value):
            let name = name.utf8
            let value = value.utf8
            guard (1...256).contains(name.count), value.count <= 16 * 1024 else { return false }
            let tokenSymbols = Set("!#$%&'*+-.^_`|~".utf8)
            let nameValid = name.allSatisfy { byte in
                Self.isAlphanumeric(byte) || tokenSymbols.contains(byte)
            }
            return nameValid && value.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
        case .query(let parameter, let value):
            return (1...128).contains(parameter.utf8.count) && value.utf8.count <= 8 * 1024
                && parameter.utf8.allSatisfy { Self.isAlphanumeric($0) || Set("-._~".utf8).contains($0) }
        case .clientCertificate:
            return upstreamTLS != nil
        case .postgres(let user, let password, let database):
            // What a startup message and a password message can carry: no NUL, sane lengths (PostgreSQL's own
            // limit on a name is 63 bytes).
            return (1...63).contains(user.utf8.count) && (1...1024).contains(password.utf8.count)
                && !user.utf8.contains(0) && !password.utf8.contains(0)
                && (database.map { (1...63).contains($0.utf8.count) && !$0.utf8.contains(0) } ?? true)
        case .sigV4(let aws):
            // Key id, region and service go into the Authorization header's scope; the token into a header.
            let scopeParts = [aws.accessKeyID, aws.region, aws.service]
            return scopeParts.allSatisfy { part in
                (1...128).contains(part.utf8.count)
                    && part.utf8.allSatisfy { Self.isAlphanumeric($0) || $0 == UInt8(ascii: "-") }
            } && (1...1024).contains(aws.secretAccessKey.utf8.count)
                && (aws.sessionToken.map { token in
                    (1...16 * 1024).contains(token.utf8.count) && token.utf8.allSatisfy { $0 > 0x20 && $0 != 0x7F }
                } ?? true)
        }
    }

    static func isAlphanumeric(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

/// Which credential: one per server workload, per workload evidence (a different token never reuses another's
/// credential; a rotated token obtains its own) and per selection of the request attributes its policies examine.
struct CredentialKey: Hashable, Sendable {
    let serverWorkload: String
    let evidenceDigest: String
    var selection = RequestSelection.none
}

/// The credentials the edge holds, read without a lock; replaced whole on the rare write. Also the refusals it holds
/// for a moment (`SIGIL_EDGE_REFUSAL_HOLD_MS`): a workload retrying what the control plane just refused gets the same
/// refusal from the edge instead of another access request, so a refusal storm does not reach the control plane or
/// fill the audit log. A configuration change lets go of every held refusal at once (what was refused may now be
/// allowed).
final class CredentialCache: Sendable {
    /// Refusals held at most (each key a server workload, evidence and request selection): past it, none is added.
    static let maximumRefusals = 10_000

    private let entries = Snapshot<[CredentialKey: HeldCredential]>([:])
    private let revocationCount = ManagedAtomic<Int>(0)
    private let refusals = Mutex<[CredentialKey: (refusal: EdgeRefusal, until: ContinuousClock.Instant)]>([:])

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

    /// Holds a refusal of `key` until `until`; not if a revocation came since `revocations` (the refusal may be
    /// stale), nor past `maximumRefusals` once the expired ones are gone.
    func hold(
        _ refusal: EdgeRefusal, for key: CredentialKey, until: ContinuousClock.Instant,
        unlessRevokedSince revocations: Int
    ) {
        refusals.withLock { refusals in
            guard revocations == self.revocations else { return }
            if refusals.count >= Self.maximumRefusals {
                let now = ContinuousClock.now
                refusals = refusals.filter { $0.value.until > now }
                guard refusals.count < Self.maximumRefusals else { return }
            }
            refusals[key] = (refusal, until)
        }
    }

    /// The refusal of `key` still held at `now`, if any.
    func heldRefusal(_ key: CredentialKey, at now: ContinuousClock.Instant = .now) -> EdgeRefusal? {
        refusals.withLock { refusals in
            guard let held = refusals[key] else { return nil }
            guard now < held.until else {
                refusals.removeValue(forKey: key)
                return nil
            }
            return held.refusal
        }
    }

    /// Drops every credential a configuration change may no longer grant; returns how many. The next request for
    /// each is decided again.
    @discardableResult
    func revoke(_ change: AccessChange) -> Int {
        var revoked = 0
        // Counted first: a credential being stored concurrently either sees the count move (and is not kept) or is
        // stored before the filter below, which then drops it.
        revocationCount.wrappingIncrement(ordering: .releasing)
        refusals.withLock { $0.removeAll() }
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
    /// A lease was revoked (`LeaseRevoked`): its credential, whose database role is gone.
    case lease(String)

    func affects(_ credential: HeldCredential) -> Bool {
        switch self {
        case .accessPolicy(let name): credential.accessPolicy == nil || credential.accessPolicy == name
        case .serverWorkload(let name): credential.serverWorkload == nil || credential.serverWorkload == name
        case .identities: true
        case .lease(let id): credential.leaseID == id
        }
    }
}
