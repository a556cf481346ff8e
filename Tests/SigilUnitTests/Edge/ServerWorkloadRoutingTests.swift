import Foundation
import SigilEvents
import Testing

@testable import EdgeProxy

extension ServerWorkloadIndex {
    func serverWorkload(at target: AccessTarget, method: String? = nil, path: String? = nil) -> EdgeServerWorkload? {
        guard case .serverWorkload(let workload) = match(target, method: method, path: path) else { return nil }
        return workload
    }
}

@Suite("Edge routing: exact hosts, then wildcards from the most specific; never the bare domain")
struct ServerWorkloadRoutingTests {
    func target(_ host: String, port: Int = 443) -> AccessTarget {
        AccessTarget(scheme: "https", host: host, port: port)
    }

    @Test("an exact server workload wins over a wildcard, a longer wildcard over a shorter")
    func precedence() {
        let index = ServerWorkloadIndex([
            EdgeServerWorkload(name: "payments-any", target: target("*.payments.internal"), reportsEachRequest: false),
            EdgeServerWorkload(
                name: "payments-eu", target: target("*.eu.payments.internal"), reportsEachRequest: false),
            EdgeServerWorkload(name: "ledger", target: target("ledger.payments.internal"), reportsEachRequest: false),
        ])
        let cases: [(String, String?)] = [
            ("ledger.payments.internal", "ledger"),
            ("reports.payments.internal", "payments-any"),
            ("a.b.payments.internal", "payments-any"),
            ("api.eu.payments.internal", "payments-eu"),
            ("payments.internal", nil),  // the bare domain is not under it
            ("payments.internal.evil", nil),
            ("xpayments.internal", nil),
            ("10.0.0.1", nil),
        ]
        for (host, expected) in cases {
            #expect(index.serverWorkload(at: target(host))?.name == expected, "\(host)")
        }
        #expect(index.serverWorkload(at: target("reports.payments.internal", port: 8443)) == nil, "another port")
    }

    @Test("wildcard candidates: one per parent domain, most specific first; none for addresses")
    func candidates() {
        #expect(target("a.b.c").wildcardCandidates.map(\.host) == ["*.b.c", "*.c"])
        #expect(target("localhost").wildcardCandidates.isEmpty)
        #expect(target("10.1.2.3").wildcardCandidates.isEmpty)
        #expect(target("::1").wildcardCandidates.isEmpty)
        #expect(target("a.").wildcardCandidates.isEmpty)
    }
}
