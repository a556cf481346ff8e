import Foundation

/// A Wiz-style cluster feed: Kubernetes clusters from the GraphQL API (`POST <url>/graphql`, paged by cursor), each
/// reported under its name with its `status` (lower case: connected, disconnected, ...), when the connector last saw
/// it, and a score of 100 less 20 per open critical issue and 5 per open high one (0 at worst), so a policy can ask
/// for "no critical issue" as `minimumScore: 81`.
struct WizClusters {
    let client: PostureFeedClient
    let token: String

    static let query = """
        query SigilClusters($first: Int!, $after: String) {
          kubernetesClusters(first: $first, after: $after) {
            nodes { name status lastSeen criticalIssueCount highIssueCount }
            pageInfo { hasNextPage endCursor }
          }
        }
        """

    struct Answer: Decodable {
        struct Data: Decodable {
            struct Clusters: Decodable {
                struct Node: Decodable {
                    let name: String
                    let status: String?
                    let lastSeen: Date?
                    let criticalIssueCount: Int?
                    let highIssueCount: Int?
                }
                struct PageInfo: Decodable {
                    let hasNextPage: Bool
                    let endCursor: String?
                }
                let nodes: [Node]
                let pageInfo: PageInfo
            }
            let kubernetesClusters: Clusters
        }
        struct Failure: Decodable { let message: String? }
        let data: Data?
        let errors: [Failure]?
    }

    static func score(critical: Int, high: Int) -> Int { max(0, 100 - 20 * critical - 5 * high) }

    func pull() async throws -> [PostureObservation] {
        var observations: [PostureObservation] = []
        var after: String?
        for _ in 0..<20 {
            var variables: [String: Any] = ["first": 500]
            if let after { variables["after"] = after }
            let body = try JSONSerialization.data(withJSONObject: ["query": Self.query, "variables": variables])
            let answer: Answer = try await client.send(
                .POST, "\(client.spec.url)/graphql",
                headers: [("authorization", "Bearer \(token)"), ("content-type", "application/json")],
                body: String(decoding: body, as: UTF8.self), what: "the GraphQL API")
            guard let clusters = answer.data?.kubernetesClusters else {
                throw PostureFeedError(
                    description: "the GraphQL API answered errors: "
                        + (answer.errors ?? []).compactMap { $0.message?.prefix(200) }.prefix(3).joined(separator: "; ")
                )
            }
            for node in clusters.nodes {
                guard let lastSeen = node.lastSeen else { continue }
                observations.append(
                    PostureObservation(
                        subject: node.name,
                        score: Self.score(critical: node.criticalIssueCount ?? 0, high: node.highIssueCount ?? 0),
                        status: node.status?.lowercased(), lastSeen: lastSeen))
            }
            guard clusters.pageInfo.hasNextPage, let cursor = clusters.pageInfo.endCursor else { break }
            after = cursor
        }
        return observations
    }
}
