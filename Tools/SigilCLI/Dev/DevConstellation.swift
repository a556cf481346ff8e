import Foundation

/// The five services of the local constellation, their executables and admin ports.
enum DevConstellation {
    struct Member {
        let name: String
        let port: Int
        let urlVariable: String
    }

    static let services = [
        Member(name: "sigil-attest", port: 7101, urlVariable: "SIGIL_ATTEST_URL"),
        Member(name: "sigil-policy", port: 7102, urlVariable: "SIGIL_POLICY_URL"),
        Member(name: "sigil-issue", port: 7103, urlVariable: "SIGIL_ISSUE_URL"),
        Member(name: "sigil-audit", port: 7104, urlVariable: "SIGIL_AUDIT_URL"),
        Member(name: "sigil-edge", port: 7105, urlVariable: "SIGIL_EDGE_URL"),
    ]
    static let edgeProxyPort = 7480
    static let postgresPort = 7432
}
