import Foundation

/// The server workload an edge wants to reach.
public struct AccessTarget: Codable, Sendable, Hashable {
    public var scheme: String
    public var host: String
    public var port: Int
    public init(scheme: String, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// The wildcard server workloads that would cover this target, most specific first: `api.eu.payments.internal`
    /// is covered by `*.eu.payments.internal`, then `*.payments.internal`, then `*.internal` (a wildcard stands for one
    /// or more labels, never for the bare domain). None for an IP address.
    public var wildcardCandidates: [AccessTarget] {
        guard host.contains(where: \.isLetter), !host.contains(":") else { return [] }
        var candidates: [AccessTarget] = []
        var rest = Substring(host)
        while let dot = rest.firstIndex(of: ".") {
            rest = rest[rest.index(after: dot)...]
            guard !rest.isEmpty else { break }
            candidates.append(AccessTarget(scheme: scheme, host: "*." + rest, port: port))
        }
        return candidates
    }
}

/// Where the terminal outcome of an access request goes back to: the edge's reply partition and its one-time
/// HPKE public key for this request.
public struct ReplyAddress: Codable, Sendable, Hashable {
    public var edgeID: String
    public var partition: Int32
    public var publicKey: Base64Bytes
    public init(edgeID: String, partition: Int32, publicKey: [UInt8]) {
        self.edgeID = edgeID
        self.partition = partition
        self.publicKey = Base64Bytes(publicKey)
    }
}

public struct AccessRequested: EventPayload {
    public static let eventType = EventType(area: "access", event: "requested", version: 2)
    public var requestID: String
    public var target: AccessTarget
    /// The workload's evidence, sealed to the attestation key and bound (associated data) to tenant, request id,
    /// edge, reply key, target and deadline: changing any of them makes it unopenable.
    public var evidence: SealedData
    public var reply: ReplyAddress
    /// When the edge stops waiting; every stage drops the request after it.
    public var deadline: Deadline
    /// What the edge saw of the request that decisions may use (absent from edges before request attributes).
    public var request: RequestAttributes?
    public init(
        requestID: String, target: AccessTarget, evidence: SealedData, reply: ReplyAddress, deadline: Deadline,
        request: RequestAttributes? = nil
    ) {
        self.request = request
        self.requestID = requestID
        self.target = target
        self.evidence = evidence
        self.reply = reply
        self.deadline = deadline
    }
}

public struct IdentityAttested: EventPayload {
    public static let eventType = EventType(area: "access", event: "identity-attested", version: 2)
    public var requestID: String
    public var target: AccessTarget
    public var reply: ReplyAddress
    public var deadline: Deadline
    public var clientWorkload: String
    /// The first of `trustProviders` (what events before several providers carried).
    public var trustProvider: String
    /// Every trust provider whose evidence verified, in the order the evidence came.
    public var trustProviders: [String]
    /// Verified, non-secret claims (issuer, subject, namespace, ...).
    public var claims: [String: String]
    /// What the edge saw of the request that decisions may use (absent from edges before request attributes).
    public var request: RequestAttributes?
    public init(
        requestID: String,
        target: AccessTarget,
        reply: ReplyAddress,
        clientWorkload: String,
        trustProviders: [String],
        claims: [String: String],
        deadline: Deadline,
        request: RequestAttributes? = nil
    ) {
        self.request = request
        self.requestID = requestID
        self.target = target
        self.reply = reply
        self.deadline = deadline
        self.clientWorkload = clientWorkload
        self.trustProvider = trustProviders.first ?? ""
        self.trustProviders = trustProviders
        self.claims = claims
    }

    private enum CodingKeys: String, CodingKey {
        case requestID, target, reply, deadline, clientWorkload, trustProvider, trustProviders, claims, request
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestID = try container.decode(String.self, forKey: .requestID)
        target = try container.decode(AccessTarget.self, forKey: .target)
        reply = try container.decode(ReplyAddress.self, forKey: .reply)
        deadline = try container.decode(Deadline.self, forKey: .deadline)
        clientWorkload = try container.decode(String.self, forKey: .clientWorkload)
        trustProvider = try container.decode(String.self, forKey: .trustProvider)
        trustProviders = try container.decodeIfPresent([String].self, forKey: .trustProviders) ?? [trustProvider]
        claims = try container.decode([String: String].self, forKey: .claims)
        request = try container.decodeIfPresent(RequestAttributes.self, forKey: .request)
    }
}

/// Why a stage refused: a stable reason code and a human detail that never quotes a secret.
public struct RefusalReason: Codable, Sendable, Hashable {
    public var code: String
    public var detail: String
    public init(code: String, detail: String) {
        self.code = code
        self.detail = detail
    }
}

public struct AttestationFailed: EventPayload {
    public static let eventType = EventType(area: "access", event: "attestation-failed", version: 1)
    public var requestID: String
    public var target: AccessTarget
    public var reason: RefusalReason
    public init(requestID: String, target: AccessTarget, reason: RefusalReason) {
        self.requestID = requestID
        self.target = target
        self.reason = reason
    }
}

public struct AccessGranted: EventPayload {
    public static let eventType = EventType(area: "access", event: "granted", version: 2)
    public var requestID: String
    public var target: AccessTarget
    public var reply: ReplyAddress
    public var deadline: Deadline
    public var clientWorkload: String
    public var serverWorkload: String
    public var accessPolicy: String
    public var credentialProvider: String
    public var ttlSeconds: Int
    /// The policies weighed and why this one granted (absent in events written before explanations).
    public var explanation: DecisionExplanation?
    /// What the edge saw of the request that decisions may use (absent from edges before request attributes).
    public var request: RequestAttributes?
    /// The attested identity's non-secret claims (what a minted credential may carry), as `IdentityAttested` had them.
    public var claims: [String: String]?
    public init(
        requestID: String,
        target: AccessTarget,
        reply: ReplyAddress,
        clientWorkload: String,
        serverWorkload: String,
        accessPolicy: String,
        credentialProvider: String,
        ttlSeconds: Int,
        deadline: Deadline,
        explanation: DecisionExplanation? = nil,
        request: RequestAttributes? = nil,
        claims: [String: String]? = nil
    ) {
        self.claims = claims
        self.request = request
        self.explanation = explanation
        self.requestID = requestID
        self.target = target
        self.reply = reply
        self.deadline = deadline
        self.clientWorkload = clientWorkload
        self.serverWorkload = serverWorkload
        self.accessPolicy = accessPolicy
        self.credentialProvider = credentialProvider
        self.ttlSeconds = ttlSeconds
    }
}

public struct AccessDenied: EventPayload {
    public static let eventType = EventType(area: "access", event: "denied", version: 1)
    public var requestID: String
    public var target: AccessTarget
    public var clientWorkload: String
    public var reason: RefusalReason
    /// The policies weighed and why none granted (absent when no server workload or policy was there to weigh).
    public var explanation: DecisionExplanation?
    /// What the edge saw of the request that decisions may use (absent from edges before request attributes).
    public var request: RequestAttributes?
    public init(
        requestID: String, target: AccessTarget, clientWorkload: String, reason: RefusalReason,
        explanation: DecisionExplanation? = nil, request: RequestAttributes? = nil
    ) {
        self.request = request
        self.explanation = explanation
        self.requestID = requestID
        self.target = target
        self.clientWorkload = clientWorkload
        self.reason = reason
    }
}

/// Terminal success: the credential, sealed to the edge's one-time key for this request.
public struct CredentialIssued: EventPayload {
    public static let eventType = EventType(area: "access", event: "credential-issued", version: 1)
    public var requestID: String
    public var credential: SealedData
    public var expiresAt: Date
    public var leaseID: String
    /// The access policy and server workload it was granted under: an edge drops it when either changes
    /// (continuous evaluation). Absent in events written before.
    public var accessPolicy: String?
    public var serverWorkload: String?
    public init(
        requestID: String, credential: SealedData, expiresAt: Date, leaseID: String, accessPolicy: String? = nil,
        serverWorkload: String? = nil
    ) {
        self.accessPolicy = accessPolicy
        self.serverWorkload = serverWorkload
        self.requestID = requestID
        self.credential = credential
        self.expiresAt = expiresAt
        self.leaseID = leaseID
    }
}

/// Terminal refusal, written to the edge's reply partition by whichever stage ended the request.
public struct AccessRefused: EventPayload {
    public static let eventType = EventType(area: "access", event: "refused", version: 1)
    public enum Stage: String, Codable, Sendable { case attestation, policy, issuance }
    public var requestID: String
    public var stage: Stage
    public var reason: RefusalReason
    public init(requestID: String, stage: Stage, reason: RefusalReason) {
        self.requestID = requestID
        self.stage = stage
        self.reason = reason
    }
}
