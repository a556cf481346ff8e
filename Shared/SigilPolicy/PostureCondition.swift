import Atomics
import Foundation
import SigilEvents
import SigilService

/// A posture condition: what a posture feed last said of the client's host or cluster holds — reported within
/// `maxLastSeenSeconds` (a report exactly that old still holds), a score of at least `minimumScore`, a status among
/// `statuses`. The subject is the value of an attested claim (`subjectClaim: instanceId`) or fixed (`subject:
/// prod-cluster`, for a cluster feed and a trust provider per cluster). No report, a stale one, or a feed that stopped
/// answering (its reports age) fails the condition.
package struct PostureCondition: Codable, Sendable, Equatable, CustomStringConvertible {
    static let schema = SpecSchema.ObjectSchema(
        "What a posture feed last reported of the client's host or cluster.",
        [
            .init("feed", SpecSchema.reference, required: true, "The PostureFeed."),
            .init(
                "subjectClaim", .string(maxLength: 128),
                "The attested claim whose value is the subject the feed reports on (hostname, instanceId, ...)."),
            .init("subject", .string(maxLength: 253), "Or the subject itself (a cluster's name)."),
            .init("minimumScore", .integer(minimum: 0, maximum: 100), "The lowest score that holds."),
            .init(
                "statuses", .array(of: .string(maxLength: 64), minItems: 1, maxItems: 16),
                "The statuses that hold (the feed's words, lower case: normal, healthy, ...)."),
            .init(
                "maxLastSeenSeconds", .integer(minimum: 10, maximum: 86_400), required: true,
                "How old the feed's last sight of the subject may be."),
        ])

    package var feed: String
    package var subjectClaim: String?
    package var subject: String?
    package var minimumScore: Int?
    package var statuses: [String]?
    package var maxLastSeenSeconds: Int

    package init(
        feed: String, subjectClaim: String? = nil, subject: String? = nil, minimumScore: Int? = nil,
        statuses: [String]? = nil, maxLastSeenSeconds: Int
    ) {
        self.feed = feed
        self.subjectClaim = subjectClaim
        self.subject = subject
        self.minimumScore = minimumScore
        self.statuses = statuses
        self.maxLastSeenSeconds = maxLastSeenSeconds
    }

    func check(at path: String) throws {
        guard (subjectClaim == nil) != (subject == nil) else {
            throw ProblemDetails.invalidField(path, "give exactly one of \(path).subjectClaim and \(path).subject")
        }
        guard minimumScore != nil || statuses != nil else {
            throw ProblemDetails.invalidField(
                path, "\(path) needs minimumScore or statuses (freshness alone says nothing of posture)")
        }
    }

    /// Whether a report holds for this condition's score and status (freshness aside): what an edge judges when a
    /// report arrives, to drop what a worse one no longer grants.
    package func accepts(score: Int?, status: String?) -> Bool {
        if let minimumScore, (score ?? -1) < minimumScore { return false }
        if let statuses, !statuses.contains(status ?? "") { return false }
        return true
    }

    package var description: String {
        var parts = ["\(feed): \(subjectClaim.map { "claim \($0)" } ?? subject ?? "?")"]
        if let minimumScore { parts.append("score >= \(minimumScore)") }
        if let statuses { parts.append("status \(statuses.joined(separator: "|"))") }
        parts.append("seen within \(maxLastSeenSeconds) s")
        return parts.joined(separator: ", ")
    }

    /// The check for a request: its result, what it saw, and (holding) the seconds until the report goes stale.
    func evaluate(
        claims: [String: String], board: PostureBoard?, tenant: String, at moment: Date
    ) -> (satisfied: Bool, actual: String, secondsLeft: Int?) {
        guard let subject = subject ?? subjectClaim.flatMap({ claims[$0] }) else {
            return (false, "the client has no claim \(subjectClaim ?? "")", nil)
        }
        guard let report = board?.report(tenant: tenant, feed: feed, subject: subject) else {
            return (false, "no report of \(subject) from \(feed)", nil)
        }
        let age = Int(moment.timeIntervalSince(report.lastSeen).rounded(.up))
        let seen =
            "\(subject): score \(report.score.map(String.init) ?? "none"), status \(report.status ?? "none"), "
            + "seen \(max(0, age)) s ago"
        guard age <= maxLastSeenSeconds else { return (false, seen + " (stale)", nil) }
        guard accepts(score: report.score, status: report.status) else { return (false, seen, nil) }
        return (true, seen, max(1, maxLastSeenSeconds - age))
    }
}

/// The latest report of each feed's subjects, per tenant: filled from `sigil.posture` by the policy service, read
/// without a lock on the decision path (replaced whole, per batch of reports).
package final class PostureBoard: Sendable {
    package struct Report: Sendable, Equatable {
        package let score: Int?
        package let status: String?
        package let lastSeen: Date

        package init(score: Int?, status: String?, lastSeen: Date) {
            self.score = score
            self.status = status
            self.lastSeen = lastSeen
        }
    }

    struct Key: Hashable {
        let tenant: String
        let feed: String
        let subject: String
    }

    private final class Reports: AtomicReference, Sendable {
        let byKey: [Key: Report]
        init(_ byKey: [Key: Report]) { self.byKey = byKey }
    }

    private let reports = ManagedAtomic(Reports([:]))

    package init() {}

    package func report(tenant: String, feed: String, subject: String) -> Report? {
        reports.load(ordering: .acquiring).byKey[Key(tenant: tenant, feed: feed, subject: subject)]
    }

    /// Takes in reports (of one batch, in order); a report older than the one held (by `lastSeen`) does not replace
    /// it. One writer (the posture reader).
    package func record(_ incoming: [(tenant: String, report: PostureReported)]) {
        guard !incoming.isEmpty else { return }
        var byKey = reports.load(ordering: .acquiring).byKey
        for (tenant, reported) in incoming {
            let key = Key(tenant: tenant, feed: reported.feed, subject: reported.subject)
            if let held = byKey[key], held.lastSeen > reported.lastSeen { continue }
            byKey[key] = Report(score: reported.score, status: reported.status, lastSeen: reported.lastSeen)
        }
        reports.store(Reports(byKey), ordering: .releasing)
    }

    package var count: Int { reports.load(ordering: .acquiring).byKey.count }
}
