/// Temporary AWS credentials and where they sign (region, service), as sigil-issue seals them to an edge for SigV4
/// request signing. Never on the bus in clear: only inside a credential sealed to one request's key.
public struct AWSSigningCredentials: Codable, Sendable, Equatable {
    public let accessKeyID: String
    public let secretAccessKey: String
    public let sessionToken: String?
    public let region: String
    public let service: String
    /// False for S3's `UNSIGNED-PAYLOAD`: the body streams through unread instead of being hashed first.
    public let signsPayload: Bool

    public init(
        accessKeyID: String, secretAccessKey: String, sessionToken: String?, region: String, service: String,
        signsPayload: Bool
    ) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
        self.signsPayload = signsPayload
    }
}
