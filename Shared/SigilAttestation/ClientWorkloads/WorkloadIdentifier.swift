import SigilEvents
import SigilService

/// What one trust provider's verified evidence must say for a client workload: typed matchers for the common
/// identities (Kubernetes namespace and service account, pod name, SPIFFE ID) and claim matchers for anything else
/// (a GitHub repository, a GitLab project, an AWS account). Values take `*` as a wildcard; every matcher given must
/// hold.
package struct WorkloadIdentifier: Codable, Sendable, Equatable, CustomStringConvertible {
    static let glob = (regex: "^[^\\s]+$", meaning: "a value without spaces (`*` matches any run of characters)")

    static let schema = SpecSchema.ObjectSchema(
        "One trust provider and what its verified evidence must hold.",
        [
            .init("trustProvider", SpecSchema.reference, required: true, "The TrustProvider whose evidence is meant."),
            .init(
                "namespace", .string(maxLength: 63, pattern: glob),
                "Kubernetes namespace (`*` wildcards: `team-*`)."),
            .init("serviceAccount", .string(maxLength: 253, pattern: glob), "Kubernetes service account (wildcards)."),
            .init(
                "podNamePrefix", .string(maxLength: 253, pattern: glob),
                "The pod's name starts with this (a Deployment's pods: `api-`)."),
            .init(
                "spiffeIDPrefix",
                .string(
                    maxLength: 2048, pattern: (regex: "^spiffe://[^/\\s]+(/[^\\s]*)?$", meaning: "a SPIFFE ID")),
                "The SPIFFE ID is this or under it, by path segment (`spiffe://acme.org/ns/payments`)."),
            .init(
                "claims", .map(of: .string(maxLength: 1024, pattern: glob), maxEntries: 16),
                "Claims or attributes (nested by dotted path) and the value each must have, wildcards allowed; a "
                    + "claim holding a list matches when one of its values does."),
        ])

    package var trustProvider: String
    package var namespace: String?
    package var serviceAccount: String?
    package var podNamePrefix: String?
    package var spiffeIDPrefix: String?
    package var claims: [String: String]?

    package init(
        trustProvider: String, namespace: String? = nil, serviceAccount: String? = nil, podNamePrefix: String? = nil,
        spiffeIDPrefix: String? = nil, claims: [String: String]? = nil
    ) {
        self.trustProvider = trustProvider
        self.namespace = namespace
        self.serviceAccount = serviceAccount
        self.podNamePrefix = podNamePrefix
        self.spiffeIDPrefix = spiffeIDPrefix
        self.claims = claims
    }

    /// An identifier with no matcher would let anything the provider verifies in: every token GitHub signs.
    func check(at path: String) throws {
        let given =
            [namespace, serviceAccount, podNamePrefix, spiffeIDPrefix].compactMap { $0 }.count
            + (claims?.count ?? 0)
        guard given > 0 else {
            throw ProblemDetails.invalidField(
                path,
                "\(path) names only a trust provider; give at least one of namespace, serviceAccount, "
                    + "podNamePrefix, spiffeIDPrefix and claims (else every workload the provider verifies matches)")
        }
        if let claims, let bare = claims.first(where: { $0.value.allSatisfy { $0 == "*" } }) {
            throw ProblemDetails.invalidField(
                "\(path).claims.\(bare.key)",
                "\(path).claims.\(bare.key) matches any value; require the claim's value (or part of it)")
        }
    }

    package func matches(_ evidence: VerifiedEvidence) -> Bool {
        guard evidence.trustProvider == trustProvider else { return false }
        let attributes = evidence.attributes
        func any(_ name: String, _ test: (String) -> Bool) -> Bool {
            attributes.values[name]?.contains(where: test) ?? false
        }
        if let namespace, !any("namespace", { Glob.matches(namespace, $0) }) { return false }
        if let serviceAccount, !any("serviceAccount", { Glob.matches(serviceAccount, $0) }) { return false }
        if let podNamePrefix, !any("podName", { $0.hasPrefix(podNamePrefix) }) { return false }
        if let spiffeIDPrefix, !any("spiffeID", { Self.isUnder($0, spiffeIDPrefix) }) { return false }
        for (claim, pattern) in claims ?? [:] where !any(claim, { Glob.matches(pattern, $0) }) { return false }
        return true
    }

    /// `spiffe://acme.org/ns/payments/sa/api` is under `spiffe://acme.org/ns/payments`; `…/ns/payments-old` is not.
    static func isUnder(_ id: String, _ prefix: String) -> Bool {
        id == prefix || id.hasPrefix(prefix.hasSuffix("/") ? prefix : prefix + "/")
    }

    package var description: String {
        var parts = ["trustProvider=\(trustProvider)"]
        if let namespace { parts.append("namespace=\(namespace)") }
        if let serviceAccount { parts.append("serviceAccount=\(serviceAccount)") }
        if let podNamePrefix { parts.append("podNamePrefix=\(podNamePrefix)") }
        if let spiffeIDPrefix { parts.append("spiffeIDPrefix=\(spiffeIDPrefix)") }
        for (claim, value) in (claims ?? [:]).sorted(by: { $0.key < $1.key }) { parts.append("\(claim)=\(value)") }
        return parts.joined(separator: ",")
    }
}

/// `*` matches any run of characters (`/` included); everything else matches itself. Linear in the value's length
/// times the pattern's (no backtracking blow-up on `*a*a*a*b`).
package enum Glob {
    package static func matches(_ pattern: String, _ value: String) -> Bool {
        let pattern = Array(pattern.unicodeScalars)
        let value = Array(value.unicodeScalars)
        var p = 0
        var v = 0
        var star: Int?
        var resume = 0
        while v < value.count {
            if p < pattern.count, pattern[p] != "*", pattern[p] == value[v] {
                p += 1
                v += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                resume = v
                p += 1
            } else if let star {
                p = star + 1
                resume += 1
                v = resume
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}
