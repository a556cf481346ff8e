import SigilCrypto
import SigilEvents
import SigilService

/// A posture feed Sigil pulls: a CrowdStrike Falcon-style host feed (hosts with a Zero Trust Assessment score, a
/// containment status and when the sensor was last seen) or a Wiz-style cluster feed (Kubernetes clusters with their
/// open issues and last sight). Both authenticate with OAuth 2.0 client credentials; the client secret is encrypted
/// at admission with the policy service's own key (`SIGIL_POLICY_KEK`) and never shown again. What the feed says goes
/// to `sigil.posture` as `PostureReported`, which policies' `posture` conditions judge.
struct PostureFeedSpec: ResourceSpec {
    enum FeedType: String, Codable, Sendable, CaseIterable {
        case crowdstrike, wiz
    }

    static let kind = ResourceKind.postureFeed
    static let summary = "A posture feed (CrowdStrike-style hosts, Wiz-style clusters) that sigil-policy pulls."
    static let schema = SpecSchema.object(
        summary,
        [
            .init(
                "type", .string(choices: FeedType.allCases.map(\.rawValue)), required: true,
                "crowdstrike (hosts: Zero Trust Assessment score, status, last seen) or wiz (Kubernetes clusters: "
                    + "status, a score from open critical and high issues, last seen)."),
            .init(
                "url", .string(maxLength: 2048), required: true,
                "The API's base URL (https://api.crowdstrike.com, https://api.us17.app.wiz.io); http only to this host."
            ),
            .init(
                "tokenURL", .string(maxLength: 2048),
                "The OAuth 2.0 token endpoint (default: <url>/oauth2/token for crowdstrike, "
                    + "https://auth.app.wiz.io/oauth/token for wiz)."),
            .init("clientID", .string(maxLength: 256), required: true, "The API client's id."),
            .init(
                "clientSecret", .string(maxLength: 512), writeOnly: true,
                "The API client's secret; encrypted at admission, never shown again."),
            .init(
                "clientSecretEncrypted", .string(maxLength: 4096), readOnly: true,
                "The secret as stored (encrypted). Accepted back unchanged, so `sigil get -o yaml` applies again."),
            .init(
                "pollIntervalSeconds", .integer(minimum: 5, maximum: 3_600), default: 60,
                "How often the feed is pulled. Keep it well under the maxLastSeenSeconds of the policies using it."),
        ])

    var type: FeedType
    var url: String
    var tokenURL: String?
    var clientID: String
    var clientSecret: String?
    var clientSecretEncrypted: EncryptedValue?
    var pollIntervalSeconds: Int

    init(
        type: FeedType, url: String, tokenURL: String? = nil, clientID: String, clientSecret: String? = nil,
        clientSecretEncrypted: EncryptedValue? = nil, pollIntervalSeconds: Int = 60
    ) {
        self.type = type
        self.url = url
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientSecretEncrypted = clientSecretEncrypted
        self.pollIntervalSeconds = pollIntervalSeconds
    }

    func admitted(_ admission: Admission<Self>) async throws -> Self {
        try OutboundURL.check(url, field: "spec.url")
        if let tokenURL { try OutboundURL.check(tokenURL, field: "spec.tokenURL") }
        var stored = self
        stored.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        stored.clientSecret = nil
        stored.clientSecretEncrypted = try ResourceSecrets.admit(
            try PostureFeedSecrets.configured(admission.context.configuration), setting: PostureFeedSecrets.setting,
            clear: clientSecret, encrypted: clientSecretEncrypted, kind: .postureFeed, tenant: admission.tenant,
            name: admission.name, field: "clientSecret", at: "spec")
        return stored
    }

    /// The token endpoint in effect.
    var effectiveTokenURL: String {
        tokenURL ?? (type == .crowdstrike ? url + "/oauth2/token" : "https://auth.app.wiz.io/oauth/token")
    }
}

/// `SIGIL_POLICY_KEK` (`SIGIL_POLICY_KEK_ID`): the policy service's own key for posture feeds' client secrets.
enum PostureFeedSecrets {
    static let setting = "SIGIL_POLICY_KEK"

    static func configured(_ configuration: ServiceConfiguration) throws -> ResourceSecrets? {
        try ResourceSecrets.configured(
            configuration, setting: setting, keyIDSetting: "SIGIL_POLICY_KEK_ID", defaultKeyID: "policy-kek-1",
            purpose: "posture-feeds")
    }
}
