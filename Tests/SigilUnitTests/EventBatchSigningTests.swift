import Crypto
import Foundation
import SigilEvents
import SigilKafka
import Testing

@testable import SigilCrypto

@Suite("Batch signatures: one Ed25519 signature over a Merkle tree of events, each event verifiable alone")
struct EventBatchSigningTests {
    let edge = EventSigner.generate(role: .edge, keyID: "edge-1").signer
    let outsider = EventSigner.generate(role: .edge, keyID: "edge-1").signer  // same id, another key

    var verifier: EventVerifier {
        get throws { try EventVerifier(TrustBundle(keys: [edge.trustedKey])) }
    }

    func reports(_ count: Int) throws -> [(CloudEvent, any EventPayload)] {
        try (0..<count).map { index in
            let payload = RequestProxied(
                edgeID: "e", requestID: "req-\(index)",
                target: AccessTarget(scheme: "https", host: "api.internal", port: 443), status: 200, bytes: 10,
                latencyMilliseconds: 1)
            return (
                try payload.cloudEvent(
                    source: EventSource(service: "edge", instance: "1"), tenant: "acme", partitionKey: "e"),
                payload
            )
        }
    }

    /// RFC 9162 §2.1.1's definition, recursively: the tree the bottom-up build must equal.
    func referenceRoot(_ leaves: ArraySlice<SHA256Digest>) -> SHA256Digest {
        guard leaves.count > 1 else { return leaves.first! }
        var split = 1
        while split * 2 < leaves.count { split *= 2 }
        let middle = leaves.startIndex + split
        return EventBatchTree.nodeHash(referenceRoot(leaves[..<middle]), referenceRoot(leaves[middle...]))
    }

    @Test("the tree is RFC 9162's for every size, and every leaf's path, and only it, leads to the root")
    func tree() {
        for size in 1...70 {
            let leaves = (0..<size).map { EventBatchTree.leafHash(Array("leaf \($0)".utf8)) }
            let levels = EventBatchTree.levels(of: leaves)
            let root = levels[levels.count - 1][0]
            #expect(root == referenceRoot(leaves[...]), "size \(size)")
            for index in 0..<size {
                let path = EventBatchTree.path(of: index, in: levels)
                #expect(EventBatchTree.root(leaf: leaves[index], index: index, size: size, path: path) == root)
                if size > 1 {
                    let other = (index + 1) % size
                    #expect(EventBatchTree.root(leaf: leaves[other], index: index, size: size, path: path) != root)
                    // A hash short, a byte short, a hash too many.
                    let wrong = [Array(path.dropLast(EventBatchTree.hashSize)), Array(path.dropLast()), path + root]
                    for path in wrong {
                        #expect(EventBatchTree.root(leaf: leaves[index], index: index, size: size, path: path) == nil)
                    }
                }
            }
        }
    }

    @Test("every event of a batch verifies alone after a trip through Kafka, in any order, with or without the cache")
    func roundTrip() throws {
        for size in [2, 3, 7, 64, 100] {
            let batch = try reports(size)
            let signed = try edge.sign(batch: batch.map(\.0))
            #expect(Set(signed.compactMap(\.signature)).count == size, "each carries its own path")
            let shared = try verifier
            for index in (0..<size).shuffled() {
                let received = try CloudEvent.throughKafka(signed[index])
                #expect(try shared.verify(received, batch[index].1) == .edge)
                #expect(try verifier.verify(received, batch[index].1) == .edge, "a fresh verifier, nothing cached")
            }
        }
        let one = try reports(1)
        let alone = try edge.sign(batch: [one[0].0])
        #expect(alone[0].signature?.split(separator: ":").count == 2, "a batch of one is signed alone")
        #expect(try verifier.verify(try CloudEvent.throughKafka(alone[0]), one[0].1) == .edge)
    }

    @Test("batches larger than one tree are signed as several, all verifiable")
    func chunked() throws {
        let batch = try reports(EventSigner.maximumBatch + 2)
        let signed = try edge.sign(batch: batch.map(\.0))
        let verifier = try verifier
        for (event, (_, payload)) in zip(signed, batch) { #expect(try verifier.verify(event, payload) == .edge) }
        #expect(Set(signed.map { $0.signature!.split(separator: ":")[1] }).count == 2)
    }

    @Test("a batch member altered, moved, given another's path, or signed by a key under a known id is refused")
    func refusals() throws {
        let batch = try reports(9)
        let signed = try edge.sign(batch: batch.map(\.0))
        let verifier = try verifier
        // The genuine batch is verified first, so its root is cached: forgeries must not ride on it.
        for (event, (_, payload)) in zip(signed, batch) { _ = try verifier.verify(event, payload) }
        func reason(_ event: CloudEvent, _ payload: any EventPayload = batch[4].1) -> String? {
            do {
                _ = try verifier.verify(event, payload)
                return nil
            } catch { return error.code }
        }
        var tampered = signed[4]
        tampered.data = Array(
            String(decoding: tampered.data, as: UTF8.self).replacingOccurrences(of: "req-4", with: "req-X").utf8)
        #expect(reason(tampered) == "signature-invalid")
        var otherTenant = signed[4]
        otherTenant.tenant = "globex"
        #expect(reason(otherTenant) == "signature-invalid")
        var forged = try reports(1)[0].0
        forged.signature = signed[4].signature  // a new event under a genuine path and signature
        #expect(reason(forged) == "signature-invalid")
        let parts = signed[4].signature!.split(separator: ":").map(String.init)
        var borrowed = signed[4]
        borrowed.signature = signed[5].signature
        #expect(reason(borrowed) == "signature-invalid")
        var moved = signed[4]
        moved.signature = [parts[0], parts[1], "5/9", parts[3]].joined(separator: ":")
        #expect(reason(moved) == "signature-invalid")
        var resized = signed[4]
        resized.signature = [parts[0], parts[1], "4/10", parts[3]].joined(separator: ":")
        #expect(reason(resized) == "signature-invalid")
        var truncated = signed[4]
        let path = Data(base64Encoded: parts[3])!
        truncated.signature = [parts[0], parts[1], parts[2], path.dropLast(32).base64EncodedString()].joined(
            separator: ":")
        #expect(reason(truncated) == "signature-invalid")
        let impostor = try outsider.sign(batch: batch.map(\.0))
        #expect(reason(impostor[4]) == "signature-invalid")
        for garbled in [
            "edge-1:\(parts[1]):0/1:\(parts[3])", "edge-1:\(parts[1]):9/9:\(parts[3])",
            "edge-1:\(parts[1]):4/9:", "edge-1:\(parts[1]):4/9:abc", "edge-1:\(parts[1]):x/9:\(parts[3])",
            "edge-1:\(parts[1]):4:\(parts[3])", "edge-1:AAAA", String(repeating: "a", count: 3_000),
        ] {
            var event = signed[4]
            event.signature = garbled
            #expect(reason(event) == "malformed-signature", "\(garbled.prefix(40))")
        }
    }

    @Test("the verified-signature cache forgets the oldest entries beyond its capacity")
    func cacheBound() {
        let cache = VerifiedBatchSignatures(capacity: 3)
        let entries = (0..<5).map {
            VerifiedBatchSignatures.Entry(
                keyID: "k", signature: Data([UInt8($0)]), root: SHA256.hash(data: [UInt8]()), size: 2)
        }
        for entry in entries { cache.insert(entry) }
        #expect(!cache.contains(entries[0]) && !cache.contains(entries[1]))
        #expect(entries[2...].allSatisfy(cache.contains))
    }
}
