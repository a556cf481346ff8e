/// One of several runners of a projection in one process, each reading its own share of every topic's partitions
/// (partition modulo the lane count). Their transactions run side by side: a batch's database work (the insert, the
/// commit) no longer waits for the previous batch's. Nothing is shared between lanes but the tables: each partition,
/// so each of its offsets (and each audit chain, which lives in one partition), has one lane as its writer.
public struct ProjectionLane: Sendable, Hashable, CustomStringConvertible {
    public let index: Int
    public let count: Int

    public init(index: Int, of count: Int) {
        precondition(count > 0 && (0..<count).contains(index), "lane \(index) of \(count)")
        self.index = index
        self.count = count
    }

    public func reads(partition: Int) -> Bool { partition % count == index }

    public var description: String { "\(index + 1)/\(count)" }
}
