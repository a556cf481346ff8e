import Foundation

/// A CrowdStrike Falcon-style host feed: host ids from `GET /devices/queries/devices/v1` (paged), their details from
/// `POST /devices/entities/devices/v2` (hostname, cloud instance id, `status`: normal, contained, ..., `last_seen`),
/// and each host's Zero Trust Assessment from `GET /zero-trust-assessment/entities/assessments/v1` (`overall`,
/// 0-100) as its score. Each host is reported under its hostname (lower case) and, for a cloud instance, its
/// instance id too, so a policy names it by whichever claim attestation gives (`hostname`, `instanceId`).
struct CrowdStrikeHosts {
    let client: PostureFeedClient
    let token: String

    /// At most this many hosts per pull (10 pages of the query).
    static let pageSize = 5_000
    static let maximumPages = 10

    struct Page: Decodable {
        struct Meta: Decodable {
            struct Pagination: Decodable { let total: Int? }
            let pagination: Pagination?
        }
        let resources: [String]?
        let meta: Meta?
    }

    struct Device: Decodable {
        let deviceID: String
        let hostname: String?
        let instanceID: String?
        let status: String?
        let lastSeen: Date?

        enum CodingKeys: String, CodingKey {
            case deviceID = "device_id", hostname, instanceID = "instance_id", status, lastSeen = "last_seen"
        }
    }

    struct Devices: Decodable { let resources: [Device]? }

    struct Assessment: Decodable {
        struct Scores: Decodable { let overall: Int? }
        let aid: String
        let assessment: Scores?
    }

    struct Assessments: Decodable { let resources: [Assessment]? }

    var bearer: [(String, String)] { [("authorization", "Bearer \(token)")] }

    func pull() async throws -> [PostureObservation] {
        let base = client.spec.url
        var ids: [String] = []
        for page in 0..<Self.maximumPages {
            let answer: Page = try await client.send(
                .GET, "\(base)/devices/queries/devices/v1?limit=\(Self.pageSize)&offset=\(page * Self.pageSize)",
                headers: bearer, what: "the device query")
            let found = answer.resources ?? []
            ids += found
            if found.count < Self.pageSize || ids.count >= (answer.meta?.pagination?.total ?? Int.max) { break }
        }
        var observations: [PostureObservation] = []
        for chunk in stride(from: 0, to: ids.count, by: 100).map({ Array(ids[$0..<min($0 + 100, ids.count)]) }) {
            let body = String(decoding: try JSONEncoder().encode(["ids": chunk]), as: UTF8.self)
            let devices: Devices = try await client.send(
                .POST, "\(base)/devices/entities/devices/v2",
                headers: bearer + [("content-type", "application/json")], body: body, what: "the device details")
            let query = chunk.map { "ids=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }
            let assessments: Assessments = try await client.send(
                .GET, "\(base)/zero-trust-assessment/entities/assessments/v1?" + query.joined(separator: "&"),
                headers: bearer, what: "the Zero Trust Assessments")
            var scores: [String: Int] = [:]
            for assessment in assessments.resources ?? [] { scores[assessment.aid] = assessment.assessment?.overall }
            for device in devices.resources ?? [] {
                guard let lastSeen = device.lastSeen else { continue }
                let names = [device.hostname?.lowercased(), device.instanceID].compactMap { $0 }.filter { !$0.isEmpty }
                for name in Set(names) {
                    observations.append(
                        PostureObservation(
                            subject: name, score: scores[device.deviceID], status: device.status?.lowercased(),
                            lastSeen: lastSeen))
                }
            }
        }
        return observations
    }
}
