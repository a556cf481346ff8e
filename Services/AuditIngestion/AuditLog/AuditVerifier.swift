import Foundation
import Logging
import PostgresNIO
import SigilCrypto
import SigilEvents
import SigilProjection

/// Proves a tenant's audit log intact, chain by chain: each row's sequence follows the last, its previous hash is the
/// last row's hash, its hash is recomputed from its fields, its producer's signature verifies for a role allowed to
/// produce it, and the columns queries filter on (time, outcome, workloads) say what the signed event says. Against
/// shipped checkpoints, it also proves no chain was cut short or rewritten from end to end.
struct AuditVerifier: Sendable {
    let schema: SchemaName
    let postgres: PostgresClient
    /// Nil only in tests without a trust bundle: then signatures are not checked.
    let events: EventVerifier?
    var catalog: EventCatalog = .sigil

    struct Break: Codable, Sendable, Equatable {
        let chain: String
        let sequence: Int64
        let eventID: String?
        let reason: String
    }

    struct Report: Codable, Sendable {
        var verified: Bool { breaks.isEmpty }
        var records = 0
        var chains = 0
        var checkpointsMatched = 0
        var breaks: [Break] = []

        enum CodingKeys: String, CodingKey { case verified, records, chains, checkpointsMatched, breaks }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(verified, forKey: .verified)
            try container.encode(records, forKey: .records)
            try container.encode(chains, forKey: .chains)
            try container.encode(checkpointsMatched, forKey: .checkpointsMatched)
            try container.encode(breaks, forKey: .breaks)
        }
        init() {}
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            records = try container.decode(Int.self, forKey: .records)
            chains = try container.decode(Int.self, forKey: .chains)
            checkpointsMatched = try container.decode(Int.self, forKey: .checkpointsMatched)
            breaks = try container.decode([Break].self, forKey: .breaks)
        }
    }

    /// Every chain of the tenant; with `checkpoints`, each checkpointed head must be in the log as it was signed.
    /// The checkpoints must have been checked already (`AuditCheckpoints.verified`).
    func verify(tenant: String, checkpoints: [AuditCheckpointed] = [], logger: Logger) async throws -> Report {
        var report = Report()
        var heads: [AuditChainID: [Int64: String]] = [:]
        for checkpoint in checkpoints where checkpoint.tenant == tenant {
            for head in checkpoint.heads {
                let chain = AuditChainID(tenant: tenant, topic: head.topic, partition: head.partition)
                heads[chain, default: [:]][head.sequence] = head.hash
            }
        }
        let chains = try await chainIDs(tenant: tenant, logger: logger)
        for chain in Set(chains).union(heads.keys).sorted() {
            report.chains += 1
            var expected = heads[chain] ?? [:]
            let last = try await verify(chain: chain, report: &report, checkpoints: &expected, logger: logger)
            // A checkpointed head past the log's end: rows were cut off (or the whole chain removed).
            if let missing = expected.keys.min() {
                report.breaks.append(
                    Break(
                        chain: chain.description, sequence: missing, eventID: nil,
                        reason: "a signed checkpoint has this chain at sequence \(missing); the log ends at \(last)"))
            }
        }
        return report
    }

    /// Walks one chain; returns its last sequence. Stops at its first break.
    private func verify(
        chain: AuditChainID, report: inout Report, checkpoints: inout [Int64: String], logger: Logger
    ) async throws -> Int64 {
        var previous = AuditChainHead.genesis
        while true {
            let rows = try await postgres.query(
                """
                SELECT \(unescaped: AuditRecord.columns) FROM \(unescaped: schema.rawValue).events
                WHERE tenant = \(chain.tenant) AND topic = \(chain.topic) AND partition = \(chain.partition)
                  AND sequence > \(previous.sequence)
                ORDER BY sequence LIMIT 1000
                """,
                logger: logger
            )
            var count = 0
            for try await row in rows {
                count += 1
                let record = try AuditRecord(row: row)
                if let reason = problem(with: record, after: previous) {
                    report.breaks.append(
                        Break(
                            chain: chain.description, sequence: record.sequence, eventID: record.event.id,
                            reason: reason))
                    checkpoints.removeAll()
                    return record.sequence
                }
                if let signed = checkpoints.removeValue(forKey: record.sequence) {
                    guard signed == record.hash.hex else {
                        report.breaks.append(
                            Break(
                                chain: chain.description, sequence: record.sequence, eventID: record.event.id,
                                reason: "the hash differs from the signed checkpoint's: the log was rewritten"))
                        checkpoints.removeAll()
                        return record.sequence
                    }
                    report.checkpointsMatched += 1
                }
                report.records += 1
                previous = AuditChainHead(sequence: record.sequence, hash: record.hash)
            }
            if count < 1000 { return previous.sequence }
        }
    }

    /// Why this row breaks the chain, if it does.
    func problem(with record: AuditRecord, after previous: AuditChainHead) -> String? {
        guard record.sequence == previous.sequence + 1 else {
            return "sequence \(record.sequence) follows \(previous.sequence): rows are missing"
        }
        guard record.previousHash == previous.hash else {
            return
                "its previous hash is not the hash of sequence \(previous.sequence): a row before it was changed, removed or inserted"
        }
        guard record.hash == record.expectedHash else {
            return "its hash does not match its contents: the row was changed"
        }
        guard let payload = try? catalog.decode(record.event) else {
            return "the stored event is not a readable Sigil event"
        }
        if let events {
            do {
                try events.verify(record.event, payload)
            } catch {
                return "its producer's signature does not hold (\(error.code)): the event was not written by Sigil"
            }
        }
        let derived = AuditRecord.classify(payload)
        guard
            derived.outcome == record.outcome && derived.clientWorkload == record.clientWorkload
                && derived.serverWorkload == record.serverWorkload
        else {
            return "its outcome or workload columns differ from the signed event's"
        }
        guard let time = CloudEvent.parseTime(record.event.timeAttribute),
            abs(time.timeIntervalSince(record.event.time)) < 0.000_001
        else {
            return "its time column differs from the signed event's time"
        }
        return nil
    }

    private func chainIDs(tenant: String, logger: Logger) async throws -> [AuditChainID] {
        let rows = try await postgres.query(
            """
            SELECT DISTINCT topic, partition FROM \(unescaped: schema.rawValue).events WHERE tenant = \(tenant)
            """,
            logger: logger
        )
        var chains: [AuditChainID] = []
        for try await (topic, partition) in rows.decode((String, Int32).self) {
            chains.append(AuditChainID(tenant: tenant, topic: topic, partition: partition))
        }
        return chains
    }
}
