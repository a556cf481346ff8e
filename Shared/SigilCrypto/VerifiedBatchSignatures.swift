import Crypto
import Foundation
import Synchronization

/// Batch signatures that verified, most recent first out last: the rest of a batch is then checked by hashing alone.
/// Only a (key, signature, signed root) that verified is ever held, so a hit is as good as verifying again.
final class VerifiedBatchSignatures: Sendable {
    struct Entry: Hashable {
        let keyID: String
        let signature: Data
        /// The root the signature covers, and the tree's size (`EventBatchTree.signedMessage`).
        let root: SHA256Digest
        let size: Int
    }

    private struct State {
        var entries: Set<Entry> = []
        var order: [Entry?]
        var next = 0
    }

    private let state: Mutex<State>

    init(capacity: Int = 4_096) {
        state = Mutex(State(order: Array(repeating: nil, count: capacity)))
    }

    func contains(_ entry: Entry) -> Bool {
        state.withLock { $0.entries.contains(entry) }
    }

    func insert(_ entry: Entry) {
        state.withLock { state in
            guard state.entries.insert(entry).inserted else { return }
            if let evicted = state.order[state.next] { state.entries.remove(evicted) }
            state.order[state.next] = entry
            state.next = (state.next + 1) % state.order.count
        }
    }
}
