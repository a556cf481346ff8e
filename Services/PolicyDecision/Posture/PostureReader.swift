import Foundation
import Logging
import ServiceLifecycle
import SigilEvents
import SigilKafka
import SigilPolicy
import SigilService

/// Reads `sigil.posture` from the beginning into the `PostureBoard` posture conditions judge: every replica reads all
/// of it (a report is small; the topic keeps each subject's latest for a week). Only reports signed by the policy
/// role count. Not ready until what was written before start is read, so a restarted replica does not refuse for
/// want of reports it has not read yet.
struct PostureReader: Service {
    let context: ServiceContext
    let board: PostureBoard

    init(context: ServiceContext, board: PostureBoard) {
        self.context = context
        self.board = board
        context.readiness.addCondition("posture")
    }

    func run() async throws {
        let reader = try await WholeTopicReader(
            context, topic: .posture, client: "sigil-policy-posture", from: .beginning)
        var catchUp = CatchUp(reader.ends)
        if catchUp.isDone { context.readiness.satisfy("posture") }
        try await reader.run { batch in
            var reports: [(tenant: String, report: PostureReported)] = []
            for message in batch {
                if let event = try? CloudEvent(kafkaMessage: message),
                    let report = try? EventCatalog.sigil.decode(event) as? PostureReported,
                    context.isAuthentic(event, report)
                {
                    reports.append((event.tenant, report))
                }
                if catchUp.passed(message) {
                    board.record(reports)
                    reports = []
                    context.readiness.satisfy("posture")
                    context.logger.info("posture reports read", metadata: ["subjects": "\(board.count)"])
                }
            }
            board.record(reports)
        }
    }
}
