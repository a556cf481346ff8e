import Foundation
import SigilEvents

/// The record as an OCSF 1.2 event: attestation as Authentication (3002), access decisions as Authorize Session
/// (3003), everything else as API Activity (6003). Sigil's own fields (chain, hash, workloads) travel in `unmapped`.
/// Properties are camel case here and snake case on the wire (`encoder`), as OCSF names attributes.
struct OCSFEvent: Encodable {
    struct Product: Encodable {
        let name = "Sigil"
        let vendorName = "Sigil"
        let version = "0.2"
    }
    struct Metadata: Encodable {
        let product = Product()
        let version = "1.2.0"
        let uid: String
        let tenantUid: String
        let logName = "sigil.audit"
        let eventCode: String
        let originalTime: String
        let sequence: Int64
        let correlationUid: String?
    }
    struct User: Encodable {
        let name: String
        let uid: String
        /// 3: a system account (a workload, not a person).
        let typeId = 3
    }
    struct Service: Encodable { let name: String }
    struct API: Encodable {
        let operation: String
        let service: Service
    }
    struct Actor: Encodable { let appName: String }
    struct Endpoint: Encodable { let svcName: String }
    struct Unmapped: Encodable {
        let chain: String
        let hash: String
        let outcome: String?
        let clientWorkload: String?
        let serverWorkload: String?
        let subject: String?
    }

    let metadata: Metadata
    let categoryUid: Int
    let classUid: Int
    let className: String
    let activityId: Int
    let activityName: String
    let typeUid: Int
    let time: Int64
    let severityId: Int
    let statusId: Int
    let status: String
    let message: String
    let user: User?
    let privileges: [String]?
    let api: API?
    /// Authentication: the service that authenticated the workload.
    let service: Service?
    let actor: Actor?
    let srcEndpoint: Endpoint?
    let unmapped: Unmapped

    init(_ record: AuditRecord) {
        let event = record.event
        let outcome = record.outcome
        metadata = Metadata(
            uid: event.id, tenantUid: record.tenant, eventCode: event.type.description,
            originalTime: event.timeAttribute, sequence: record.sequence, correlationUid: event.subject)
        time = Int64((event.time.timeIntervalSince1970 * 1000).rounded())
        let failed = LogRecordFormatter.isWarning(record)
        severityId = failed ? 3 : 1
        statusId = failed ? 2 : 1
        status = failed ? "Failure" : "Success"
        message = "\(outcome ?? event.type.event) \(event.subject ?? "")".trimmingCharacters(in: .whitespaces)
        unmapped = Unmapped(
            chain: record.chain.description, hash: record.hash.hex, outcome: outcome,
            clientWorkload: record.clientWorkload, serverWorkload: record.serverWorkload, subject: event.subject)
        let workload = record.clientWorkload ?? "unknown"
        switch outcome {
        case "attested", "attestation-failed":
            (categoryUid, classUid, className, activityId, activityName) = (3, 3002, "Authentication", 1, "Logon")
            user = User(name: workload, uid: workload)
            privileges = nil
            api = nil
            service = Service(name: "sigil-attest")
            actor = nil
            srcEndpoint = nil
        case "granted", "denied":
            (categoryUid, classUid, className, activityId, activityName) = (
                3, 3003, "Authorize Session", 1, "Assign Privileges"
            )
            user = User(name: workload, uid: workload)
            // Granted: the access given; denied: the access asked for (status Failure says it was not given).
            privileges = ["access:\(record.serverWorkload ?? record.event.subject ?? "target")"]
            api = nil
            service = nil
            actor = nil
            srcEndpoint = nil
        default:
            let activity: (Int, String) =
                switch outcome {
                case "resource-defined": (3, "Update")
                case "resource-removed": (4, "Delete")
                default: (99, "Other")
                }
            (categoryUid, classUid, className) = (6, 6003, "API Activity")
            (activityId, activityName) = activity
            user = nil
            privileges = nil
            let service = String(event.source.split(separator: "/").dropFirst().first ?? "sigil")
            api = API(operation: event.type.event, service: Service(name: "sigil-\(service)"))
            self.service = nil
            actor = Actor(appName: event.source)
            srcEndpoint = Endpoint(svcName: "sigil-\(service)")
        }
        typeUid = classUid * 100 + activityId
    }
}

extension OCSFEvent {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()
}
