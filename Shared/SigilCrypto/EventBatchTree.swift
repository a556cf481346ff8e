import Crypto
import Foundation
import SigilEvents

/// The Merkle tree one signature covers when a producer signs a batch of events at once: RFC 9162's tree (§2.1.1:
/// leaf = SHA-256(0x00 ‖ signing input), node = SHA-256(0x01 ‖ left ‖ right), the left subtree the largest power of
/// two), built bottom-up — a level's odd last node is carried up unchanged, which gives the same tree. Each event
/// carries its leaf index, the tree's size and its inclusion path, so it can be verified alone (a compacted topic may
/// have kept it and dropped its batch-mates): hash the leaf, walk the path to the root, check the one signature over
/// the root. Consumers remember roots whose signature verified, so a batch of n costs one Ed25519 verification and n
/// short hash walks instead of n verifications. Hashes are `SHA256Digest` values and a path is its sibling hashes
/// concatenated, as it travels: every event read walks one, with no array per hash.
enum EventBatchTree {
    /// Largest batch signed under one root; a path is at most 16 hashes.
    static let maximumSize = 65_536
    static let hashSize = SHA256Digest.byteCount

    /// The leaf of a signing input already assembled (two updates: gathering would copy it whole).
    static func leafHash(_ input: [UInt8]) -> SHA256Digest {
        var hasher = SHA256()
        withUnsafeBytes(of: UInt8(0)) { hasher.update(bufferPointer: $0) }
        hasher.update(data: input)
        return hasher.finalize()
    }

    /// The leaf of an event: its signing input hashed as it is written, never assembled.
    static func leafHash(of event: CloudEvent) -> SHA256Digest {
        GatheredHash.sha256(capacity: 1 + event.signingInputCount) { append in
            withUnsafeBytes(of: UInt8(0), append)
            event.writeSigningInput(append)
        }
    }

    static func nodeHash(_ left: some ContiguousBytes, _ right: some ContiguousBytes) -> SHA256Digest {
        GatheredHash.sha256(capacity: 1 + 2 * hashSize) { append in
            withUnsafeBytes(of: UInt8(1), append)
            left.withUnsafeBytes(append)
            right.withUnsafeBytes(append)
        }
    }

    /// Every level from the leaves up to the root (the last level holds one hash). `leaves` is not empty.
    static func levels(of leaves: [SHA256Digest]) -> [[SHA256Digest]] {
        precondition(!leaves.isEmpty && leaves.count <= maximumSize)
        var levels = [leaves]
        while let level = levels.last, level.count > 1 {
            var up: [SHA256Digest] = []
            up.reserveCapacity((level.count + 1) / 2)
            var index = 0
            while index + 1 < level.count {
                up.append(nodeHash(level[index], level[index + 1]))
                index += 2
            }
            if index < level.count { up.append(level[index]) }  // an odd last node is carried up
            levels.append(up)
        }
        return levels
    }

    /// The siblings from leaf `index` up to the root, concatenated.
    static func path(of index: Int, in levels: [[SHA256Digest]]) -> [UInt8] {
        var path: [UInt8] = []
        var position = index
        for level in levels.dropLast() {
            let sibling = position ^ 1
            if sibling < level.count { path.append(contentsOf: level[sibling]) }
            position >>= 1
        }
        return path
    }

    /// The root that `leaf` at `index` of a tree of `size` leaves reaches through `path` (sibling hashes
    /// concatenated); nil when the path does not fit that position (too short or too long, or not whole hashes), so
    /// a proof made for another place in another tree is refused.
    static func root(leaf: SHA256Digest, index: Int, size: Int, path: [UInt8]) -> SHA256Digest? {
        guard size >= 1, size <= maximumSize, index >= 0, index < size, path.count % hashSize == 0 else { return nil }
        var hash = leaf
        var position = index
        var count = size
        var next = path.startIndex
        while count > 1 {
            let carried = position & 1 == 0 && position + 1 >= count  // the level's odd last node, carried up
            if !carried {
                guard next < path.endIndex else { return nil }
                let sibling = path[next..<next + hashSize]
                next += hashSize
                hash = position & 1 == 1 ? nodeHash(sibling, hash) : nodeHash(hash, sibling)
            }
            position >>= 1
            count = (count + 1) / 2
        }
        return next == path.endIndex ? hash : nil
    }

    /// What the batch's one signature covers: a version tag, the tree's size and its root.
    static func signedMessage(root: SHA256Digest, size: Int) -> [UInt8] {
        var message = Array("sigil-event-batch-v1".utf8)
        withUnsafeBytes(of: UInt32(size).bigEndian) { message.append(contentsOf: $0) }
        message.append(contentsOf: root)
        return message
    }
}
