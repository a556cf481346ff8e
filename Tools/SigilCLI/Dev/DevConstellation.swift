import Foundation

/// The five services of the local constellation, their executables and admin ports.
enum DevConstellation {
    struct Member {
        /// The executable, and the process's name in `dev status`.
        let name: String
        /// The name `--replicas` uses (`policy=3`).
        let role: String
        let port: Int
        let urlVariable: String
    }

    static let services = [
        Member(name: "sigil-attest", role: "attest", port: 7101, urlVariable: "SIGIL_ATTEST_URL"),
        Member(name: "sigil-policy", role: "policy", port: 7102, urlVariable: "SIGIL_POLICY_URL"),
        Member(name: "sigil-issue", role: "issue", port: 7103, urlVariable: "SIGIL_ISSUE_URL"),
        Member(name: "sigil-audit", role: "audit", port: 7104, urlVariable: "SIGIL_AUDIT_URL"),
        Member(name: "sigil-edge", role: "edge", port: 7105, urlVariable: "SIGIL_EDGE_URL"),
    ]
    static let edgeProxyPort = 7480
    static let postgresPort = 7432

    /// Replica `n` (from 1) of a service listens 100 ports above replica `n - 1` (7102, 7202, 7302 for policy); an
    /// edge's proxy one port above (7480, 7481).
    static func port(of member: Member, replica: Int) -> Int { member.port + 100 * (replica - 1) }
    static func edgeProxyPort(replica: Int) -> Int { edgeProxyPort + replica - 1 }

    /// The process name of a replica: the executable's for the first, `-N` after it for the others.
    static func processName(of member: Member, replica: Int) -> String {
        replica == 1 ? member.name : "\(member.name)-\(replica)"
    }
}
