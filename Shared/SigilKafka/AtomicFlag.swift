import Synchronization

/// A boolean shared between a polling thread and the tasks that stop it.
final class AtomicFlag: Sendable {
    private let value: Atomic<Bool>

    init(_ initial: Bool = false) { value = Atomic(initial) }

    var isSet: Bool { value.load(ordering: .relaxed) }

    func set() { value.store(true, ordering: .relaxed) }

    func clear() { value.store(false, ordering: .relaxed) }

    /// Sets the flag and says whether it was already set.
    func testAndSet() -> Bool { value.exchange(true, ordering: .relaxed) }
}
