import Foundation
import PostgresNIO
import SigilEvents

/// One row of the audit log: the event exactly as it was read (every CloudEvents attribute, the data bytes and the
/// producer's signature, so the signature can be checked again from the row), where it was read, and its place in
/// its chain.
struct AuditRecord: Sendable {
    let chain: AuditChainID
    let sequence: Int64
    let offset: Int64
    let event: CloudEvent
    let outcome: String?
    let clientWorkload: String?
    let serverWorkload: String?
    let previousHash: [UInt8]
    let hash: [UInt8]

    var tenant: String { chain.tenant }
    /// The hash this record should have, recomputed from its fields.
    var expectedHash: [UInt8] {
        AuditChain.hash(previous: previousHash, chain: chain, sequence: sequence, offset: offset, event: event)
    }

    /// The columns `init(row:)` reads, in a SELECT list.
    static let columns = """
        tenant, topic, partition, sequence, kafka_offset, event_id, event_type, source, subject, partition_key,
        traceparent, content_type, time_attribute, occurred_at, data, signature, outcome, client_workload,
        server_workload, previous_hash, hash
        """

    init(
        chain: AuditChainID, sequence: Int64, offset: Int64, event: CloudEvent, outcome: String?,
        clientWorkload: String?, serverWorkload: String?, previousHash: [UInt8], hash: [UInt8]
    ) {
        self.chain = chain
        self.sequence = sequence
        self.offset = offset
        self.event = event
        self.outcome = outcome
        self.clientWorkload = clientWorkload
        self.serverWorkload = serverWorkload
        self.previousHash = previousHash
        self.hash = hash
    }

    /// A row as stored. A type that no longer parses (the row was edited) is kept as an unknown type, so the chain
    /// check names the row instead of the read failing.
    init(row: PostgresRow) throws {
        // By position, in the order of `columns` (a lookup by name per column costs more than the rest of the read).
        let (
            tenant, topic, partition, sequence, offset, id, typeText, source, subject, partitionKey, traceparent,
            contentType, timeAttribute, time, data, signature, outcome, clientWorkload, serverWorkload, previousHash,
            hash
        ) = try row.decode(
            (
                String, String, Int32, Int64, Int64, String, String, String, String?, String, String?, String, String,
                Date, String, String?, String?, String?, String?, ByteBuffer, ByteBuffer
            ).self)
        var event = CloudEvent(
            id: id, source: source,
            type: EventType(parsing: typeText) ?? EventType(area: "unreadable", event: "type", version: 0),
            time: time, subject: subject, tenant: tenant, partitionKey: partitionKey, traceparent: traceparent,
            dataContentType: contentType, data: Array(data.utf8), signature: signature)
        event.receivedTime = timeAttribute
        self.init(
            chain: AuditChainID(tenant: tenant, topic: topic, partition: partition), sequence: sequence,
            offset: offset, event: event, outcome: outcome, clientWorkload: clientWorkload,
            serverWorkload: serverWorkload, previousHash: Array(buffer: previousHash), hash: Array(buffer: hash))
    }

    /// Every value `classify` gives, for the API's filter.
    static let outcomes = [
        "requested", "attested", "attestation-failed", "granted", "denied", "issued", "refused", "proxied",
        "proxied-summary", "edge-started", "edge-stopped", "dead-lettered", "resource-defined", "resource-removed",
        "key-published", "key-destroyed", "tenant-changed", "join-token-changed", "lease-granted", "lease-renewed",
        "lease-revoked", "lease-released",
    ]

    /// The access outcome and the workloads an event records, for filtering.
    static func classify(
        _ payload: any EventPayload
    ) -> (
        outcome: String?, clientWorkload: String?, serverWorkload: String?
    ) {
        switch payload {
        // The busiest first (an edge's report of every request it proxied): each case is a dynamic cast.
        case is RequestProxied: ("proxied", nil, nil)
        case is AccessRequested: ("requested", nil, nil)
        case let attested as IdentityAttested: ("attested", attested.clientWorkload, nil)
        case is AttestationFailed: ("attestation-failed", nil, nil)
        case let granted as AccessGranted: ("granted", granted.clientWorkload, granted.serverWorkload)
        case let denied as AccessDenied: ("denied", denied.clientWorkload, nil)
        case is CredentialIssued: ("issued", nil, nil)
        case is AccessRefused: ("refused", nil, nil)
        case is RequestsSummarized: ("proxied-summary", nil, nil)
        case is EdgeStarted: ("edge-started", nil, nil)
        case is EdgeStopped: ("edge-stopped", nil, nil)
        case is EventDeadLettered: ("dead-lettered", nil, nil)
        case is ResourceDefined: ("resource-defined", nil, nil)
        case is ResourceRemoved: ("resource-removed", nil, nil)
        case is AttestationKeyPublished, is TenantKeyRotated, is TenantSigningKeyCreated: ("key-published", nil, nil)
        case is TenantKeyDestroyed: ("key-destroyed", nil, nil)
        case is TenantCreated, is TenantDeleted: ("tenant-changed", nil, nil)
        case is JoinTokenCreated, is JoinTokenRevoked: ("join-token-changed", nil, nil)
        case let granted as LeaseGranted: ("lease-granted", granted.clientWorkload, granted.serverWorkload)
        case is LeaseRenewed: ("lease-renewed", nil, nil)
        case is LeaseRevoked: ("lease-revoked", nil, nil)
        case is LeaseReleased: ("lease-released", nil, nil)
        default: (nil, nil, nil)
        }
    }
}

/// A record as the API and the `json` log-stream format show it (documented in the OpenAPI schema `AuditRecord`).
struct AuditRecordDocument: Encodable {
    let tenant: String
    let topic: String
    let partition: Int32
    let sequence: Int64
    let offset: Int64
    let id: String
    let type: String
    let source: String
    let time: String
    let subject: String?
    let outcome: String?
    let clientWorkload: String?
    let serverWorkload: String?
    let traceparent: String?
    let data: JSONValue
    let signedBy: String?
    let previousHash: String
    let hash: String
    /// Where the next page after this record starts.
    let cursor: String

    init(_ record: AuditRecord) {
        tenant = record.chain.tenant
        topic = record.chain.topic
        partition = record.chain.partition
        sequence = record.sequence
        offset = record.offset
        id = record.event.id
        type = record.event.type.description
        source = record.event.source
        time = record.event.timeAttribute
        subject = record.event.subject
        outcome = record.outcome
        clientWorkload = record.clientWorkload
        serverWorkload = record.serverWorkload
        traceparent = record.event.traceparent
        data = (try? EventJSON.decoder.decode(JSONValue.self, from: Data(record.event.data))) ?? .null
        signedBy = record.event.signature.flatMap { $0.split(separator: ":").first.map(String.init) }
        previousHash = record.previousHash.hex
        hash = record.hash.hex
        cursor = AuditCursor(record).text
    }
}
