import SigilEvents

/// What tells the JWT trust provider types apart once a token's signature and times are checked: the issuer a type
/// presets, the claims that identify a workload (required, and published on the attestation event), and how the
/// identity is read from them.
package enum JWTProfile: Sendable, Equatable, CaseIterable {
    /// A projected Kubernetes service-account token.
    case kubernetesServiceAccount
    /// An ID token of any OpenID Connect issuer.
    case oidcIDToken
    /// A GitHub Actions OIDC token (`ACTIONS_ID_TOKEN_REQUEST_URL`).
    case githubActions
    /// A GitLab CI/CD ID token (`id_tokens:` in `.gitlab-ci.yml`).
    case gitlabCI

    package var type: String {
        switch self {
        case .kubernetesServiceAccount: "kubernetes-service-account"
        case .oidcIDToken: "oidc-id-token"
        case .githubActions: "github-actions"
        case .gitlabCI: "gitlab-ci"
        }
    }

    var summary: String {
        switch self {
        case .kubernetesServiceAccount: "Kubernetes service-account tokens of one cluster."
        case .oidcIDToken: "ID tokens of one OpenID Connect issuer."
        case .githubActions: "GitHub Actions OIDC tokens."
        case .gitlabCI: "GitLab CI/CD ID tokens (gitlab.com or a self-managed instance)."
        }
    }

    var presetIssuer: String? {
        switch self {
        case .githubActions: "https://token.actions.githubusercontent.com"
        case .gitlabCI: "https://gitlab.com"
        case .kubernetesServiceAccount, .oidcIDToken: nil
        }
    }

    /// Claims a token of this type always has (from the issuer's documentation); one missing is a refusal.
    var requiredClaims: [String] {
        switch self {
        case .kubernetesServiceAccount: []  // checked by `kubernetesIdentity`, which also reads `sub`
        case .oidcIDToken: ["sub"]
        case .githubActions: ["sub", "repository", "repository_owner", "workflow", "job_workflow_ref", "actor"]
        case .gitlabCI: ["sub", "project_path", "namespace_path", "ref", "ref_type"]
        }
    }

    /// The attributes that identify a workload of this type, published (when present) on `IdentityAttested`.
    var publishedAttributes: [String] {
        switch self {
        case .kubernetesServiceAccount: ["iss", "sub", "namespace", "serviceAccount", "podName", "podUID"]
        case .oidcIDToken: ["iss", "sub"]
        case .githubActions:
            [
                "iss", "sub", "repository", "repository_owner", "ref", "environment", "workflow", "job_workflow_ref",
                "actor",
            ]
        case .gitlabCI: ["iss", "sub", "project_path", "namespace_path", "ref", "ref_type", "environment"]
        }
    }

    /// The identity in verified claims: every claim (nested ones by dotted path), checked for the type's required
    /// claims; for Kubernetes, the namespace, service account and pod read from `sub` and `kubernetes.io`.
    func attributes(_ claims: JSONValue) throws(AttestationRefusal) -> WorkloadAttributes {
        var attributes = WorkloadAttributes(claims: claims)
        for claim in requiredClaims where attributes.first(claim)?.isEmpty ?? true {
            throw .claimMissing(claim)
        }
        if self == .kubernetesServiceAccount {
            let identity = try Self.kubernetesIdentity(attributes)
            attributes.set("namespace", identity.namespace)
            attributes.set("serviceAccount", identity.serviceAccount)
            if let pod = attributes.first("kubernetes.io.pod.name") { attributes.set("podName", pod) }
            if let uid = attributes.first("kubernetes.io.pod.uid") { attributes.set("podUID", uid) }
        }
        return attributes
    }

    /// `sub` (`system:serviceaccount:<namespace>:<name>`) and the `kubernetes.io` claim, which must agree when both
    /// are present.
    private static func kubernetesIdentity(
        _ attributes: WorkloadAttributes
    ) throws(AttestationRefusal) -> (namespace: String, serviceAccount: String) {
        var namespace = attributes.first("kubernetes.io.namespace")
        var serviceAccount = attributes.first("kubernetes.io.serviceaccount.name")
        let parts = (attributes.first("sub") ?? "").split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 4, parts[0] == "system", parts[1] == "serviceaccount" {
            if let namespace, namespace != parts[2] {
                throw .claimMismatch(
                    "kubernetes.io.namespace", expected: bounded(String(parts[2])) + " (from sub)",
                    actual: bounded(namespace))
            }
            if let serviceAccount, serviceAccount != parts[3] {
                throw .claimMismatch(
                    "kubernetes.io.serviceaccount.name", expected: bounded(String(parts[3])) + " (from sub)",
                    actual: bounded(serviceAccount))
            }
            namespace = String(parts[2])
            serviceAccount = String(parts[3])
        }
        guard let namespace, !namespace.isEmpty, let serviceAccount, !serviceAccount.isEmpty else {
            throw .claimMissing("sub (system:serviceaccount:<namespace>:<name>)")
        }
        return (namespace, serviceAccount)
    }
}

/// A value from evidence for a refusal's detail: quoted, printable ASCII only, at most 64 characters.
func bounded(_ value: String) -> String {
    let printable = value.unicodeScalars.prefix(64).map {
        $0.isASCII && $0.value >= 32 && $0 != "\"" ? Character($0) : "?"
    }
    return "\"" + String(printable) + (value.unicodeScalars.count > 64 ? "…" : "") + "\""
}
