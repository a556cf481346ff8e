import Foundation

/// The audit service's signed statement of where a tenant's audit chain stood: shipped to `sigil.audit.checkpoints`
/// (compacted, kept forever, keyed by chain) and to every log stream, so a database rewritten from end to end is still
/// found out (`sigil audit verify --against`). The payload carries its own signature, by the audit role's key, over
/// `signedBytes`: it can be checked from any copy that keeps the payload (a JSON log stream's file, a SIEM export),
/// without the CloudEvent around it.
public struct AuditCheckpointed: EventPayload {
    public static let eventType = EventType(area: "audit", event: "checkpointed", version: 1)

    /// One chain's last record: the chain is the tenant's records read from one partition of one topic.
    public struct Head: Codable, Sendable, Hashable {
        public var topic: String
        public var partition: Int32
        public var sequence: Int64
        /// SHA-256, hex.
        public var hash: String

        public init(topic: String, partition: Int32, sequence: Int64, hash: String) {
            self.topic = topic
            self.partition = partition
            self.sequence = sequence
            self.hash = hash
        }
    }

    public var tenant: String
    public var heads: [Head]
    /// `<keyID>:<base64 Ed25519 signature>` over `signedBytes`.
    public var signature: String

    public init(tenant: String, heads: [Head], signature: String) {
        self.tenant = tenant
        self.heads = heads
        self.signature = signature
    }

    /// What the signature covers: the tenant and every head, length-prefixed, under a version tag.
    public static func signedBytes(tenant: String, heads: [Head]) -> [UInt8] {
        var bytes = Array("sigil-audit-checkpoint-v1".utf8)
        func field(_ text: String) {
            withUnsafeBytes(of: UInt32(text.utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(contentsOf: text.utf8)
        }
        field(tenant)
        for head in heads {
            field(head.topic)
            withUnsafeBytes(of: head.partition.bigEndian) { bytes.append(contentsOf: $0) }
            withUnsafeBytes(of: head.sequence.bigEndian) { bytes.append(contentsOf: $0) }
            field(head.hash)
        }
        return bytes
    }
}
