/// Capped exponential backoff: `first`, twice that, ... up to `maximum`.
public struct Backoff: Sendable {
    let first: Duration
    let maximum: Duration
    private var current: Duration?

    public init(first: Duration, maximum: Duration) {
        self.first = first
        self.maximum = maximum
    }

    public mutating func next() -> Duration {
        let delay = current.map { min($0 * 2, maximum) } ?? min(first, maximum)
        current = delay
        return delay
    }

    public mutating func reset() { current = nil }
}
