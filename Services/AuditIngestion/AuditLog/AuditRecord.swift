import Crypto
import Foundation
import SigilEvents

/// One row of the audit log: the event as it was, where it was read, and its place in the tenant's hash chain.
struct AuditRecord: Codable, Sendable {
    let sequence: Int64
    let id: String
    let type: String
    let source: String
    let subject: String?
    let time: Date
    let outcome: String?
    let clientWorkload: String?
    let data: JSONValue
    let previousHash: String
    let hash: String

    /// SHA-256 over the previous hash and the record's canonical JSON (sorted keys), hex.
    static func chainHash(
        previous: String, sequence: Int64, id: String, type: String, source: String, subject: String?, time: Date,
        data: JSONValue
    ) -> String {
        struct Canonical: Encodable {
            let sequence: Int64
            let id: String
            let type: String
            let source: String
            let subject: String?
            let time: Date
            let data: JSONValue
        }
        let canonical = Canonical(
            sequence: sequence, id: id, type: type, source: source, subject: subject, time: time, data: data)
        let bytes = (try? EventJSON.encoder.encode(canonical)) ?? Data()
        var hasher = SHA256()
        hasher.update(data: Array(previous.utf8))
        hasher.update(data: bytes)
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }

    static let genesis = String(repeating: "0", count: 64)

    /// Every value `classify` gives, for the API's filter.
    static let outcomes = [
        "requested", "attested", "attestation-failed", "granted", "denied", "issued", "refused", "proxied",
        "proxied-summary", "edge-started", "edge-stopped", "dead-lettered", "resource-defined", "resource-removed",
    ]

    /// The access outcome and client workload an event records, for filtering.
    static func classify(_ payload: any EventPayload) -> (outcome: String?, clientWorkload: String?) {
        switch payload {
        case is AccessRequested: return ("requested", nil)
        case let attested as IdentityAttested: return ("attested", attested.clientWorkload)
        case is AttestationFailed: return ("attestation-failed", nil)
        case let granted as AccessGranted: return ("granted", granted.clientWorkload)
        case let denied as AccessDenied: return ("denied", denied.clientWorkload)
        case is CredentialIssued: return ("issued", nil)
        case is AccessRefused: return ("refused", nil)
        case is RequestProxied: return ("proxied", nil)
        case is RequestsSummarized: return ("proxied-summary", nil)
        case is EdgeStarted: return ("edge-started", nil)
        case is EdgeStopped: return ("edge-stopped", nil)
        case is EventDeadLettered: return ("dead-lettered", nil)
        case is ResourceDefined: return ("resource-defined", nil)
        case is ResourceRemoved: return ("resource-removed", nil)
        default: return (nil, nil)
        }
    }
}
