import ArgumentParser

/// How many processes `sigil dev up` starts per service: `--replicas policy=3,attest=2,issue=2,audit=2` (one each
/// unless named). Replicas of a service share its consumer groups, so they split its partitions.
struct DevReplicas: Sendable {
    static let maximum = 9
    private(set) var counts: [String: Int] = [:]

    init() {}

    init(parsing text: String) throws(ValidationError) {
        let roles = DevConstellation.services.map(\.role)
        for pair in text.split(separator: ",", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, roles.contains(parts[0]) else {
                throw ValidationError(
                    "--replicas: '\(pair)' is not SERVICE=COUNT with SERVICE one of \(roles.joined(separator: ", "))")
            }
            guard let count = Int(parts[1]), (1...Self.maximum).contains(count) else {
                throw ValidationError(
                    "--replicas: \(parts[0]) needs a count from 1 to \(Self.maximum), not '\(parts[1])'")
            }
            guard counts[parts[0]] == nil else { throw ValidationError("--replicas: \(parts[0]) is named twice") }
            counts[parts[0]] = count
        }
    }

    func count(of member: DevConstellation.Member) -> Int { counts[member.role] ?? 1 }
}
