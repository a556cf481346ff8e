import SigilCrypto
import SigilService

/// Splunk HTTP Event Collector: records POSTed in batches to `<url>/services/collector/event` with
/// `Authorization: Splunk <token>`; with acknowledgements on, a batch counts as delivered only once Splunk
/// acknowledges it as indexed.
struct SplunkHECDestination: Codable, Sendable, Equatable {
    static let type = "splunk-hec"

    var url: String
    var token: String?
    var tokenEncrypted: EncryptedValue?
    var acknowledgements: Bool
    var index: String?
    var sourcetype: String?
    var ca: String?

    static let schema = SpecSchema.ObjectSchema(
        "A Splunk HTTP Event Collector.",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "url", .string(maxLength: 2048), required: true,
                "The collector's base URL, e.g. https://splunk.example:8088 (http only to this host)."),
            .init(
                "token", .string(maxLength: 256), writeOnly: true,
                "The HEC token; encrypted at admission, never shown again."),
            .init(
                "tokenEncrypted", .string(maxLength: 2048), readOnly: true,
                "The token as stored (encrypted). Accepted back unchanged, so `sigil get -o yaml` applies again."),
            .init(
                "acknowledgements", .boolean, default: false,
                "Wait for indexer acknowledgement before a batch counts as delivered (enable it on the token too)."),
            .init("index", .string(maxLength: 80), "The Splunk index (the token's default when absent)."),
            .init(
                "sourcetype", .string(maxLength: 80),
                "The sourcetype (default by format: sigil:audit, ocsf, cef or syslog)."),
            .init("ca", .pem, "PEM certificate authorities for the collector's certificate."),
        ])

    func admitted(_ admission: Admission<LogStreamSpec>) throws -> Self {
        try HTTPDestination.checkURL(url, field: "spec.destination.url")
        try HTTPDestination.checkCA(ca, field: "spec.destination.ca")
        var stored = self
        stored.token = nil
        stored.tokenEncrypted = try LogStreamSecrets.admit(
            clear: token, encrypted: tokenEncrypted, field: "token", admission: admission)
        return stored
    }
}

/// An HTTPS webhook: records POSTed as `{"records": [...]}` batches, signed with HMAC-SHA256 in `Sigil-Signature`
/// (`t=<unix seconds>,v1=<hex of HMAC(secret, "<t>.<body>")>`, as Stripe signs), each batch with a `Sigil-Delivery` id
/// that stays the same when it is sent again.
struct WebhookDestination: Codable, Sendable, Equatable {
    static let type = "webhook"

    var url: String
    var secret: String?
    var secretEncrypted: EncryptedValue?
    var ca: String?

    static let schema = SpecSchema.ObjectSchema(
        "An HTTPS endpoint that receives signed JSON batches.",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "url", .string(maxLength: 2048), required: true, "Where batches are POSTed (http only to this host)."),
            .init(
                "secret", .string(maxLength: 256), writeOnly: true,
                "The HMAC-SHA256 signing secret; encrypted at admission, never shown again."),
            .init(
                "secretEncrypted", .string(maxLength: 2048), readOnly: true,
                "The secret as stored (encrypted). Accepted back unchanged."),
            .init("ca", .pem, "PEM certificate authorities for the endpoint's certificate."),
        ])

    func admitted(_ admission: Admission<LogStreamSpec>) throws -> Self {
        try HTTPDestination.checkURL(url, field: "spec.destination.url")
        try HTTPDestination.checkCA(ca, field: "spec.destination.ca")
        if let secret, secret.utf8.count < 16 {
            throw ProblemDetails.invalidField("spec.destination.secret", "spec.destination.secret is at least 16 bytes")
        }
        var stored = self
        stored.secret = nil
        stored.secretEncrypted = try LogStreamSecrets.admit(
            clear: secret, encrypted: secretEncrypted, field: "secret", admission: admission)
        return stored
    }
}
