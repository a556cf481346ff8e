import NIOSSL
import SigilCrypto
import SigilService

/// Syslog: RFC 5424 messages over TCP (RFC 6587 octet counting), TLS (RFC 5425) or UDP (RFC 5426). Over TLS the
/// sender can present a client certificate, for receivers that authenticate their senders (rsyslog's
/// `StreamDriver.AuthMode="x509/certvalid"` or `x509/name`, syslog-ng's `peer-verify(required-trusted)`).
struct SyslogDestination: Codable, Sendable, Equatable {
    static let type = "syslog"
    enum Transport: String, Codable, Sendable, CaseIterable { case tcp, tls, udp }

    var transport: Transport
    var host: String
    var port: Int
    /// PEM: the certificate authorities the receiver's certificate must chain to (TLS only; the system's when absent).
    var ca: String?
    /// The name the receiver's certificate must carry (TLS only; `host` when absent).
    var serverName: String?
    /// PEM: the certificate this sender presents, then any intermediates (TLS only).
    var clientCertificate: String?
    /// The client certificate's private key (PEM, not passphrase-protected): encrypted at admission, never shown.
    var clientKey: String?
    var clientKeyEncrypted: EncryptedValue?

    static let schema = SpecSchema.ObjectSchema(
        "A syslog receiver.",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "transport", .string(choices: Transport.allCases.map(\.rawValue)), required: true,
                "tcp (octet counting), tls (RFC 5425) or udp (RFC 5426)."),
            .init(
                "host",
                .string(
                    maxLength: 253,
                    pattern: (
                        regex: "^[A-Za-z0-9]([-A-Za-z0-9.:]*[A-Za-z0-9])?$",
                        meaning: "a host name or IP address"
                    )), required: true, "The receiver's host."),
            .init("port", .integer(minimum: 1, maximum: 65535), required: true, "The receiver's port."),
            .init(
                "ca", .pem, "PEM certificate authorities for the receiver's certificate (tls)."),
            .init("serverName", .string(maxLength: 253), "The name the receiver's certificate carries (tls)."),
            .init(
                "clientCertificate", .pem,
                "PEM certificate (then intermediates) presented to a receiver that asks for one (tls)."),
            .init(
                "clientKey", .string(SpecSchema.StringRule(maxLength: 16_384, multiline: true)), writeOnly: true,
                "The client certificate's PEM private key; encrypted at admission, never shown again."),
            .init(
                "clientKeyEncrypted", .string(maxLength: 24_576), readOnly: true,
                "The client key as stored (encrypted). Accepted back unchanged, so `sigil get -o yaml` applies again."),
        ])

    /// The destination as stored: TLS options only with tls, certificates that parse, a client key that belongs to
    /// the client certificate (encrypted).
    func admitted(_ admission: Admission<LogStreamSpec>) throws -> Self {
        guard transport == .tls else {
            let tlsOnly: [(String, Bool)] = [
                ("ca", ca != nil), ("serverName", serverName != nil), ("clientCertificate", clientCertificate != nil),
                ("clientKey", clientKey != nil || clientKeyEncrypted != nil),
            ]
            if let (field, _) = tlsOnly.first(where: \.1) {
                throw ProblemDetails.invalidField(
                    "spec.destination.\(field)", "spec.destination.\(field) applies to transport tls only")
            }
            return self
        }
        if let ca {
            guard let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)), !certificates.isEmpty else {
                throw ProblemDetails.invalidField(
                    "spec.destination.ca", "spec.destination.ca must hold PEM certificates")
            }
        }
        guard clientCertificate != nil || clientKey != nil || clientKeyEncrypted != nil else { return self }
        guard let clientCertificate else {
            throw ProblemDetails.invalidField(
                "spec.destination.clientCertificate", "a client key needs spec.destination.clientCertificate")
        }
        guard let chain = try? NIOSSLCertificate.fromPEMBytes(Array(clientCertificate.utf8)), !chain.isEmpty else {
            throw ProblemDetails.invalidField(
                "spec.destination.clientCertificate",
                "spec.destination.clientCertificate must hold a PEM certificate, then any intermediates")
        }
        var stored = self
        stored.clientKey = nil
        stored.clientKeyEncrypted = try LogStreamSecrets.admit(
            clear: clientKey, encrypted: clientKeyEncrypted, field: "clientKey", admission: admission)
        // Admitted above, so the KEK is there; the key is checked in clear whichever way it came.
        let key =
            try clientKey
            ?? LogStreamSecrets.configured(admission.context.configuration)?.decrypt(
                stored.clientKeyEncrypted!, tenant: admission.tenant, stream: admission.name, field: "clientKey")
        guard let key, let privateKey = try? NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem) else {
            throw ProblemDetails.invalidField(
                "spec.destination.clientKey",
                "spec.destination.clientKey must be a PEM private key without a passphrase")
        }
        guard (try? Self.tlsContext(ca: nil, client: (chain, privateKey))) != nil else {
            throw ProblemDetails.invalidField(
                "spec.destination.clientKey",
                "spec.destination.clientKey is not the private key of spec.destination.clientCertificate")
        }
        return stored
    }

    /// The client's TLS context: TLS 1.2 or later, the receiver verified against `ca` (or the system's roots), the
    /// client certificate presented when there is one (BoringSSL refuses a key that is not the certificate's).
    static func tlsContext(
        ca: [NIOSSLCertificate]?, client: (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey)?
    ) throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let ca { configuration.trustRoots = .certificates(ca) }
        if let client {
            configuration.certificateChain = client.chain.map { .certificate($0) }
            configuration.privateKey = .privateKey(client.key)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}
