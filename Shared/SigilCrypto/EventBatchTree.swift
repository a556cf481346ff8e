import Crypto

/// The Merkle tree one signature covers when a producer signs a batch of events at once: RFC 9162's tree (§2.1.1:
/// leaf = SHA-256(0x00 ‖ signing input), node = SHA-256(0x01 ‖ left ‖ right), the left subtree the largest power of
/// two), built bottom-up — a level's odd last node is carried up unchanged, which gives the same tree. Each event
/// carries its leaf index, the tree's size and its inclusion path, so it can be verified alone (a compacted topic may
/// have kept it and dropped its batch-mates): hash the leaf, walk the path to the root, check the one signature over
/// the root. Consumers remember roots whose signature verified, so a batch of n costs one Ed25519 verification and n
/// short hash walks instead of n verifications.
enum EventBatchTree {
    /// Largest batch signed under one root; a path is at most 16 hashes.
    static let maximumSize = 65_536

    static func leafHash(_ input: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0])
        hasher.update(data: input)
        return Array(hasher.finalize())
    }

    static func nodeHash(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [1])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// Every level from the leaves up to the root (the last level holds one hash). `leaves` is not empty.
    static func levels(of leaves: [[UInt8]]) -> [[[UInt8]]] {
        precondition(!leaves.isEmpty && leaves.count <= maximumSize)
        var levels = [leaves]
        while let level = levels.last, level.count > 1 {
            var up: [[UInt8]] = []
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

    /// The siblings from leaf `index` up to the root.
    static func path(of index: Int, in levels: [[[UInt8]]]) -> [[UInt8]] {
        var path: [[UInt8]] = []
        var position = index
        for level in levels.dropLast() {
            let sibling = position ^ 1
            if sibling < level.count { path.append(level[sibling]) }
            position >>= 1
        }
        return path
    }

    /// The root that `leaf` at `index` of a tree of `size` leaves reaches through `path`; nil when the path does not
    /// fit that position (too short or too long), so a proof made for another place in another tree is refused.
    static func root(leaf: [UInt8], index: Int, size: Int, path: [[UInt8]]) -> [UInt8]? {
        guard size >= 1, size <= maximumSize, index >= 0, index < size else { return nil }
        var hash = leaf
        var position = index
        var count = size
        var remaining = path[...]
        while count > 1 {
            if position & 1 == 1 {
                guard let sibling = remaining.popFirst() else { return nil }
                hash = nodeHash(sibling, hash)
            } else if position + 1 < count {
                guard let sibling = remaining.popFirst() else { return nil }
                hash = nodeHash(hash, sibling)
            }  // else: the level's odd last node, carried up unchanged
            position >>= 1
            count = (count + 1) / 2
        }
        return remaining.isEmpty ? hash : nil
    }

    /// What the batch's one signature covers: a version tag, the tree's size and its root.
    static func signedMessage(root: [UInt8], size: Int) -> [UInt8] {
        var message = Array("sigil-event-batch-v1".utf8)
        withUnsafeBytes(of: UInt32(size).bigEndian) { message.append(contentsOf: $0) }
        message.append(contentsOf: root)
        return message
    }
}
