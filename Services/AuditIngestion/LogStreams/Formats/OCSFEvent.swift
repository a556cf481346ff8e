import Foundation
import SigilEvents

/// The record as an OCSF 1.2 event: attestation as Authentication (3002), access decisions as Authorize Session
/// (3003), everything else as API Activity (6003). Sigil's own fields (chain, hash, workloads) travel in `unmapped`.
struct OCSFEvent: Encodable {
    struct Product: Encodable {
        let name = "Sigil"
        let vendor_name = "Sigil"
        let version = "0.2"
    }
    struct Metadata: Encodable {
        let product = Product()
        let version = "1.2.0"
        let uid: String
        let tenant_uid: String
        let log_name = "sigil.audit"
        let event_code: String
        let original_time: String
        let sequence: Int64
        let correlation_uid: String?
    }
    struct User: Encodable {
        let name: String
        let uid: String
        /// 3: a system account (a workload, not a person).
        let type_id = 3
    }
    struct Service: Encodable { let name: String }
    struct API: Encodable {
        let operation: String
        let service: Service
    }
    struct Actor: Encodable { let app_name: String }
    struct Endpoint: Encodable { let svc_name: String }
    struct Unmapped: Encodable {
        let chain: String
        let hash: String
        let outcome: String?
        let client_workload: String?
        let server_workload: String?
        let subject: String?
    }

    let metadata: Metadata
    let category_uid: Int
    let class_uid: Int
    let class_name: String
    let activity_id: Int
    let activity_name: String
    let type_uid: Int
    let time: Int64
    let severity_id: Int
    let status_id: Int
    let status: String
    let message: String
    let user: User?
    let privileges: [String]?
    let api: API?
    /// Authentication: the service that authenticated the workload.
    let service: Service?
    let actor: Actor?
    let src_endpoint: Endpoint?
    let unmapped: Unmapped

    init(_ record: AuditRecord) {
        let event = record.event
        let outcome = record.outcome
        metadata = Metadata(
            uid: event.id, tenant_uid: record.tenant, event_code: event.type.description,
            original_time: event.timeAttribute, sequence: record.sequence, correlation_uid: event.subject)
        time = Int64((event.time.timeIntervalSince1970 * 1000).rounded())
        let failed = LogRecordFormatter.isWarning(record)
        severity_id = failed ? 3 : 1
        status_id = failed ? 2 : 1
        status = failed ? "Failure" : "Success"
        message = "\(outcome ?? event.type.event) \(event.subject ?? "")".trimmingCharacters(in: .whitespaces)
        unmapped = Unmapped(
            chain: record.chain.description, hash: record.hash.hex, outcome: outcome,
            client_workload: record.clientWorkload, server_workload: record.serverWorkload, subject: event.subject)
        let workload = record.clientWorkload ?? "unknown"
        switch outcome {
        case "attested", "attestation-failed":
            (category_uid, class_uid, class_name, activity_id, activity_name) = (3, 3002, "Authentication", 1, "Logon")
            user = User(name: workload, uid: workload)
            privileges = nil
            api = nil
            service = Service(name: "sigil-attest")
            actor = nil
            src_endpoint = nil
        case "granted", "denied":
            (category_uid, class_uid, class_name, activity_id, activity_name) = (
                3, 3003, "Authorize Session", 1, "Assign Privileges"
            )
            user = User(name: workload, uid: workload)
            // Granted: the access given; denied: the access asked for (status Failure says it was not given).
            privileges = ["access:\(record.serverWorkload ?? record.event.subject ?? "target")"]
            api = nil
            service = nil
            actor = nil
            src_endpoint = nil
        default:
            let activity: (Int, String) =
                switch outcome {
                case "resource-defined": (3, "Update")
                case "resource-removed": (4, "Delete")
                default: (99, "Other")
                }
            (category_uid, class_uid, class_name) = (6, 6003, "API Activity")
            (activity_id, activity_name) = activity
            user = nil
            privileges = nil
            let service = String(event.source.split(separator: "/").dropFirst().first ?? "sigil")
            api = API(operation: event.type.event, service: Service(name: "sigil-\(service)"))
            self.service = nil
            actor = Actor(app_name: event.source)
            src_endpoint = Endpoint(svc_name: "sigil-\(service)")
        }
        type_uid = class_uid * 100 + activity_id
    }
}
