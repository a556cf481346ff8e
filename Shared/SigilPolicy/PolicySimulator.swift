import Foundation
import SigilEvents
import SigilService

/// Replays recorded access requests against two configurations (the current one and a proposed one) and reports
/// every request whose decision would change: newly denied, newly allowed, or granted with another credential.
/// Each request is decided at the moment it was recorded, so time windows judge it as they would have.
package struct PolicySimulator: Sendable {
    /// An attested access request as the audit log recorded it.
    package struct RecordedRequest: Sendable, Equatable {
        package let time: Date
        package let clientWorkload: String
        package let target: AccessTarget
        package let trustProviders: [String]
        /// What the edge said of the request (absent in records from before request attributes).
        package let request: RequestAttributes?
        /// The attested claims (posture conditions find their subject in them).
        package let claims: [String: String]

        package init(
            time: Date, clientWorkload: String, target: AccessTarget, trustProviders: [String],
            request: RequestAttributes? = nil, claims: [String: String] = [:]
        ) {
            self.request = request
            self.claims = claims
            self.time = time
            self.clientWorkload = clientWorkload
            self.target = target
            self.trustProviders = trustProviders
        }
    }

    /// What a decision came to, for comparing.
    package struct Outcome: Sendable, Hashable, CustomStringConvertible {
        package let policy: String?
        package let credentialProvider: String?
        package let refusal: String?

        package var granted: Bool { policy != nil }

        package var description: String {
            if let policy { return "granted by \(policy) (\(credentialProvider ?? "?"))" }
            return refusal ?? "refused"
        }
    }

    package enum Change: String, Sendable, CaseIterable {
        case newlyDenied = "newly denied"
        case newlyAllowed = "newly allowed"
        case differentCredential = "different credential"
    }

    /// Requests of one client, server and change, counted.
    package struct Group: Sendable, Equatable {
        package let change: Change
        package let clientWorkload: String
        package let target: AccessTarget
        package let before: Outcome
        package let after: Outcome
        package var count: Int
        package var first: Date
    }

    package struct Report: Sendable {
        package var replayed = 0
        package var unchanged = 0
        package var groups: [Group] = []

        package func count(_ change: Change) -> Int {
            groups.filter { $0.change == change }.map(\.count).reduce(0, +)
        }
    }

    let current: PolicyEngine
    let proposed: PolicyEngine
    let tenant: String

    package init(current: PolicyEngine, proposed: PolicyEngine, tenant: String) {
        self.current = current
        self.proposed = proposed
        self.tenant = tenant
    }

    package func replay(_ requests: [RecordedRequest]) -> Report {
        var report = Report()
        var index: [String: Int] = [:]
        for request in requests {
            report.replayed += 1
            let before = outcome(current, request)
            let after = outcome(proposed, request)
            let change: Change? =
                before.granted && !after.granted
                ? .newlyDenied
                : !before.granted && after.granted
                    ? .newlyAllowed
                    : before.granted && before.credentialProvider != after.credentialProvider
                        ? .differentCredential : nil
            guard let change else {
                report.unchanged += 1
                continue
            }
            let key = "\(change)|\(request.clientWorkload)|\(request.target)|\(before)|\(after)"
            if let position = index[key] {
                report.groups[position].count += 1
                report.groups[position].first = min(report.groups[position].first, request.time)
            } else {
                index[key] = report.groups.count
                report.groups.append(
                    Group(
                        change: change, clientWorkload: request.clientWorkload, target: request.target, before: before,
                        after: after, count: 1, first: request.time))
            }
        }
        report.groups.sort { ($0.change.rawValue, -$0.count) < ($1.change.rawValue, -$1.count) }
        return report
    }

    private func outcome(_ engine: PolicyEngine, _ request: RecordedRequest) -> Outcome {
        let decision = engine.decide(
            clientWorkload: request.clientWorkload, target: request.target, request: request.request,
            trustProviders: request.trustProviders, claims: request.claims, tenant: tenant, at: request.time)
        return Outcome(
            policy: decision.policy?.name, credentialProvider: decision.credentialProvider,
            refusal: decision.refusal.map { "\($0.code): \($0.detail)" })
    }
}
