import SigilCrypto
import SigilEvents
import SigilProjection

/// A service's part in authenticated events: its role's signing key (`SIGIL_SIGNING_KEY`, 32 bytes base64, and
/// `SIGIL_SIGNING_KEY_ID`) and the trust bundle of every role's public keys (`SIGIL_TRUST_BUNDLE`, a file). A service
/// does not run without both: it would produce events nobody acts on, and could not tell forged events from real.
public struct EventAuthentication: Sendable {
    public let signer: EventSigner
    public let verifier: EventVerifier

    public init(signer: EventSigner, verifier: EventVerifier) {
        self.signer = signer
        self.verifier = verifier
    }

    public static func load(_ configuration: ServiceConfiguration, role: ServiceRole) throws -> EventAuthentication {
        let source = configuration.source
        guard let material = try source.key("SIGIL_SIGNING_KEY", bytes: 32) else {
            throw ConfigurationError(
                key: "SIGIL_SIGNING_KEY",
                expected: "set: this service role's (\(role.rawValue)) Ed25519 signing key, 32 bytes base64")
        }
        let keyID = source.string("SIGIL_SIGNING_KEY_ID", default: "\(role.rawValue)-1")
        let signer: EventSigner
        do {
            signer = try EventSigner(role: role, keyID: keyID, material: material)
        } catch {
            throw ConfigurationError(key: "SIGIL_SIGNING_KEY_ID", expected: error.detail)
        }
        guard let path = source.string("SIGIL_TRUST_BUNDLE") else {
            throw ConfigurationError(
                key: "SIGIL_TRUST_BUNDLE", expected: "set: the path of the trust bundle of every role's public keys")
        }
        let bundle: TrustBundle
        do {
            bundle = try TrustBundle.load(path: path)
        } catch {
            throw ConfigurationError(key: "SIGIL_TRUST_BUNDLE", expected: "\(error)")
        }
        guard bundle.keys.contains(signer.trustedKey) else {
            throw ConfigurationError(
                key: "SIGIL_TRUST_BUNDLE",
                expected:
                    "to list this service's key \(keyID) for role \(role.rawValue): other services would refuse its events"
            )
        }
        return EventAuthentication(signer: signer, verifier: try EventVerifier(bundle))
    }

    /// For a consumer: acts on nothing it cannot attribute to a role allowed to produce it.
    public func authenticate(_ event: CloudEvent, _ payload: any EventPayload) throws(EventAuthenticationError) {
        try verifier.verify(event, payload)
    }

    /// The same, as a projection's rejection (the runner dead-letters the event with the reason).
    public func authenticateForProjection(
        _ event: CloudEvent, _ payload: any EventPayload
    ) throws(ProjectionRejection) {
        do {
            try verifier.verify(event, payload)
        } catch {
            throw ProjectionRejection(code: error.code, detail: error.detail)
        }
    }
}

extension ServiceContext {
    /// For consumers that skip rather than dead-letter (the edge): whether to act on the event. A refusal is logged
    /// with its reason and counted (`sigil.events.unauthenticated`).
    public func isAuthentic(_ event: CloudEvent, _ payload: any EventPayload) -> Bool {
        guard let authentication else { return false }
        do {
            try authentication.authenticate(event, payload)
            return true
        } catch {
            logger.warning(
                "event refused: not from a role allowed to produce it",
                metadata: [
                    "event": "\(event.type)", "reason": "\(error.code)", "source": "\(event.source.prefix(100))",
                ])
            return false
        }
    }
}
