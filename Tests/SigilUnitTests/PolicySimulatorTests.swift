import Foundation
import SigilEvents
import SigilService
import Testing

@testable import PolicyDecision
@testable import SigilPolicy

@Suite("Policy simulation: recorded requests decided by the current and a proposed configuration")
struct PolicySimulatorTests {
    let ledger = AccessTarget(scheme: "https", host: "ledger.internal", port: 443)

    /// The same configuration helper as the engine's tests: server workload `ledger`, the given policies.
    func engine(_ policies: [(String, JSONValue)]) async throws -> PolicyEngine {
        try await PolicyEngineTests().engine(policies)
    }

    @Test("newly denied, newly allowed and a different credential are told apart, grouped and counted")
    func changes() async throws {
        let current = try await engine([
            (
                "billing",
                [
                    "clientWorkload": "billing", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "key-a",
                ]
            ),
            (
                "audit",
                [
                    "clientWorkload": "audit", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "key-a",
                ]
            ),
        ])
        let proposed = try await engine([
            // billing only on weekdays, audit with another key, reporting newly allowed.
            (
                "billing",
                [
                    "clientWorkload": "billing", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "key-a",
                    "conditions": [
                        "timeWindows": [["days": ["mon", "tue", "wed", "thu", "fri"], "from": "00:00", "to": "24:00"]]
                    ],
                ]
            ),
            (
                "audit",
                [
                    "clientWorkload": "audit", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "key-b",
                ]
            ),
            (
                "reporting",
                [
                    "clientWorkload": "reporting", "serverWorkload": "ledger", "trustProvider": "cluster",
                    "credentialProvider": "key-a",
                ]
            ),
        ])
        let wednesday = ISO8601DateFormatter().date(from: "2026-11-25T10:00:00Z")!
        let saturday = ISO8601DateFormatter().date(from: "2026-11-28T10:00:00Z")!
        func request(_ client: String, _ time: Date) -> PolicySimulator.RecordedRequest {
            PolicySimulator.RecordedRequest(
                time: time, clientWorkload: client, target: ledger, trustProviders: ["cluster"])
        }
        let report = PolicySimulator(current: current, proposed: proposed, tenant: "acme").replay([
            request("billing", wednesday), request("billing", saturday), request("billing", saturday),
            request("audit", wednesday), request("reporting", saturday), request("intruder", wednesday),
        ])
        #expect(report.replayed == 6)
        #expect(report.unchanged == 2)  // billing on Wednesday; the intruder, refused both times
        #expect(report.count(.newlyDenied) == 2)
        #expect(report.count(.newlyAllowed) == 1)
        #expect(report.count(.differentCredential) == 1)
        let denied = try #require(report.groups.first { $0.change == .newlyDenied })
        #expect(denied.clientWorkload == "billing" && denied.count == 2 && denied.first == saturday)
        #expect(denied.before.description == "granted by billing (key-a)")
        #expect(denied.after.description.hasPrefix("no-matching-policy: billing (allow) does not apply: timeWindows"))
    }
}
