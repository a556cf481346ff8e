import Atomics

/// An immutable value that readers load without a lock and writers replace whole (read-copy-update): the request
/// path reads credentials and server workloads from these on every request, on every thread, without contention.
final class Snapshot<Value: Sendable>: Sendable {
    private final class Box: AtomicReference, Sendable {
        let value: Value
        init(_ value: Value) { self.value = value }
    }

    private let current: ManagedAtomic<Box>

    init(_ value: Value) { current = ManagedAtomic(Box(value)) }

    /// The latest value: one atomic load.
    var value: Value { current.load(ordering: .acquiring).value }

    /// Replaces the value with `change` applied to the latest one; retried if another writer got there first.
    func update(_ change: (inout Value) -> Void) {
        var expected = current.load(ordering: .acquiring)
        while true {
            var next = expected.value
            change(&next)
            let (exchanged, original) = current.compareExchange(
                expected: expected, desired: Box(next), ordering: .acquiringAndReleasing)
            if exchanged { return }
            expected = original
        }
    }
}
