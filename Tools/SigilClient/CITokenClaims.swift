import Foundation
import SigilEvents

/// Claims shaped like the tokens CI systems issue to jobs, from their documentation, for tests and the demo (signed
/// by a `DemoIdentity`). Every claim the documentation lists is present, so a verifier that reads them is exercised
/// as it will be by the real thing.
public enum CITokenClaims {
    /// A GitHub Actions OIDC token ("About security hardening with OpenID Connect": the example token).
    public static func githubActions(
        repository: String = "octo-org/octo-repo", ref: String = "refs/heads/main", environment: String? = "prod",
        actor: String = "octocat", audience: String = "sigil",
        issuer: String = "https://token.actions.githubusercontent.com", lifetime: TimeInterval = 300,
        now: Date = Date()
    ) -> [String: JSONValue] {
        let owner = String(repository.split(separator: "/").first ?? "")
        let workflowRef = "\(repository)/.github/workflows/deploy.yml@\(ref)"
        var claims: [String: JSONValue] = [
            "jti": .string(UUID().uuidString.lowercased()),
            "sub": .string(
                environment.map { "repo:\(repository):environment:\($0)" } ?? "repo:\(repository):ref:\(ref)"),
            "aud": .string(audience),
            "ref": .string(ref),
            "sha": "example-sha",
            "repository": .string(repository),
            "repository_owner": .string(owner),
            "repository_owner_id": "65",
            "repository_visibility": "private",
            "repository_id": "74",
            "actor_id": "12",
            "actor": .string(actor),
            "workflow": "deploy",
            "workflow_ref": .string(workflowRef),
            "workflow_sha": "example-sha",
            "head_ref": "",
            "base_ref": "",
            "event_name": "workflow_dispatch",
            "ref_type": "branch",
            "ref_protected": "true",
            "job_workflow_ref": .string(workflowRef),
            "job_workflow_sha": "example-sha",
            "runner_environment": "github-hosted",
            "run_id": "example-run-id",
            "run_number": "10",
            "run_attempt": "2",
            "iss": .string(issuer),
            "nbf": .number(now.timeIntervalSince1970.rounded(.down) - 5),
            "iat": .number(now.timeIntervalSince1970.rounded(.down)),
            "exp": .number(now.timeIntervalSince1970.rounded(.down) + lifetime),
        ]
        if let environment { claims["environment"] = .string(environment) }
        return claims
    }

    /// A GitLab CI/CD ID token ("OpenID Connect (OIDC) Authentication Using ID Tokens": the token payload).
    public static func gitlabCI(
        projectPath: String = "mygroup/myproject", ref: String = "main", refType: String = "branch",
        environment: String? = "production", audience: String = "sigil", issuer: String = "https://gitlab.com",
        lifetime: TimeInterval = 300, now: Date = Date()
    ) -> [String: JSONValue] {
        let namespace = String(projectPath.split(separator: "/").dropLast().joined(separator: "/"))
        var claims: [String: JSONValue] = [
            "namespace_id": "72",
            "namespace_path": .string(namespace),
            "project_id": "20",
            "project_path": .string(projectPath),
            "user_id": "1",
            "user_login": "sample-user",
            "user_email": "sample-user@example.com",
            "user_identities": [["provider": "github", "extern_uid": "2435223452345"]],
            "pipeline_id": "574",
            "pipeline_source": "push",
            "job_id": "302",
            "ref": .string(ref),
            "ref_type": .string(refType),
            "ref_path": .string("refs/heads/\(ref)"),
            "ref_protected": "true",
            "runner_id": .number(1),
            "runner_environment": "self-hosted",
            "sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
            "project_visibility": "public",
            "ci_config_ref_uri": .string("gitlab.example.com/\(projectPath)//.gitlab-ci.yml@refs/heads/\(ref)"),
            "ci_config_sha": "714a629c0b401fdce83e847fc9589983fc6f46bc",
            "jti": .string(UUID().uuidString.lowercased()),
            "iss": .string(issuer),
            "iat": .number(now.timeIntervalSince1970.rounded(.down)),
            "nbf": .number(now.timeIntervalSince1970.rounded(.down) - 5),
            "exp": .number(now.timeIntervalSince1970.rounded(.down) + lifetime),
            "sub": .string("project_path:\(projectPath):ref_type:\(refType):ref:\(ref)"),
            "aud": .string(audience),
        ]
        if let environment {
            claims["environment"] = .string(environment)
            claims["environment_protected"] = "true"
            claims["deployment_tier"] = "production"
        }
        return claims
    }
}
