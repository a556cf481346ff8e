import Foundation
import Logging
import ServiceLifecycle
import SigilEvents
import SigilKafka
import SigilService

/// Continuous evaluation on posture: reads `sigil.posture` from where it ends when the edge starts (what was written
/// before, no credential held here relied on), and when a report for its tenant falls short of a policy's posture
/// condition, drops what that policy granted — within the second the report arrives. Only reports signed by the
/// policy role count. A report that only ages is not needed: a grant under a posture condition lives no longer than
/// the report it relied on stays fresh.
struct PostureWatcher: Service {
    let context: ServiceContext
    let tenant: String
    let inputs: DecisionInputIndex
    let accessChanged: @Sendable (AccessChange) -> Void

    func run() async throws {
        let reader = try await WholeTopicReader(context, topic: .posture, client: "sigil-edge-posture", from: .end)
        try await reader.run { batch in
            for message in batch {
                guard let event = try? CloudEvent(kafkaMessage: message), event.tenant == tenant,
                    let report = try? EventCatalog.sigil.decode(event) as? PostureReported
                else { continue }
                let failing = inputs.policiesFailing(feed: report.feed, score: report.score, status: report.status)
                guard !failing.isEmpty, context.isAuthentic(event, report) else { continue }
                for policy in failing { accessChanged(.accessPolicy(policy)) }
                context.logger.info(
                    "posture report withdraws access",
                    metadata: [
                        "feed": "\(report.feed)", "subject": "\(report.subject)",
                        "policies": "\(failing.joined(separator: ","))",
                    ])
            }
        }
    }
}
