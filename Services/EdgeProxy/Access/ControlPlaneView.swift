import Foundation
import Logging
import ServiceLifecycle
import SigilCrypto
import SigilEvents
import SigilKafka
import SigilPolicy
import SigilService
import Synchronization

/// What the edge knows of the configuration: its tenant's server workloads, what its access policies examine of a
/// request (`DecisionInputIndex`) and the current attestation key, read from the config topic from the beginning
/// (the edge keeps nothing durable). Changes to access policies,
/// server workloads, client workloads and trust providers are also passed on as `AccessChange`s, so that
/// credentials they may no longer grant are dropped at once (continuous evaluation).
final class ControlPlaneView: Service, Sendable {
    struct AttestationKey: Sendable {
        let keyID: String
        let publicKey: [UInt8]
        let notBefore: Date
        let notAfter: Date
    }

    private let context: ServiceContext
    private let tenant: String
    /// Every attestation key published and not expired, by id.
    private let attestationKeys = Mutex<[String: AttestationKey]>([:])
    /// The tenant's server workloads, typed, for the request path.
    let serverWorkloads = ServerWorkloadIndex()
    /// What each server workload's policies examine of a request.
    let decisionInputs = DecisionInputIndex()
    /// Told of every configuration change that may withdraw access (the credential cache revokes by it).
    private let accessChanged: @Sendable (AccessChange) -> Void

    init(context: ServiceContext, tenant: String, accessChanged: @escaping @Sendable (AccessChange) -> Void = { _ in })
    {
        self.context = context
        self.tenant = tenant
        self.accessChanged = accessChanged
        // Not ready until the configuration written before start has been read: until then a server workload
        // would look unmanaged.
        context.readiness.addCondition("configuration")
    }

    /// The key to seal to now: of the keys valid now, the one whose validity began last (keys rotate with overlap).
    var currentAttestationKey: AttestationKey? {
        let now = Date()
        return attestationKeys.withLock { keys in
            keys.values.filter { $0.notBefore <= now && now < $0.notAfter }.max { $0.notBefore < $1.notBefore }
        }
    }

    func run() async throws {
        // Large batches at start: each is checked on every core (see `admit`).
        let reader = try await WholeTopicReader(
            context, topic: .config, client: "sigil-edge-config", from: .beginning, maximumBatchSize: 5_000)
        // Where the topic ended when this edge started: read up to there, it is ready.
        var catchUp = CatchUp(reader.ends)
        if catchUp.isDone { context.readiness.satisfy("configuration") }
        // Changes written before this edge started withdraw nothing it holds (it holds nothing yet): only records
        // from here on are read for revocation, so a start pays no signature check for client workloads or trust
        // providers.
        let startedAt = reader.ends
        // Decoded, filtered, signature-checked and typed on every core, the next batch while this one is taken in,
        // in order. One index update per batch: a new edge in a tenant with thousands of server workloads copies
        // the index a few times, not once per workload.
        try await reader.run { batch in
            await ConsumerBatch.map(batch) { message in
                self.admit(message, beforeStart: message.offset < (startedAt[message.partition] ?? 0))
            }
        } apply: { batch, admitted in
            var changes: [ServerWorkloadIndex.Change] = []
            defer { serverWorkloads.apply(changes) }
            for (message, event) in zip(batch, admitted) {
                if let event, let change = apply(event) { changes.append(change) }
                if catchUp.passed(message) {
                    serverWorkloads.apply(changes)
                    changes = []
                    context.readiness.satisfy("configuration")
                    context.logger.info(
                        "configuration read", metadata: ["serverWorkloads": "\(serverWorkloads.names.count)"])
                }
            }
        }
    }

    /// A configuration record this edge acts on: of its tenant (or an attestation key), a kind it uses, and signed
    /// by a role allowed to write it. Everything else is skipped here, before the costly signature check where the
    /// kind already says it is of no use (the services with projections dead-letter bad records; the edge skips);
    /// so are changes that only revoke, when written `beforeStart`.
    private func admit(_ message: KafkaConsumerMessage, beforeStart: Bool) -> Admitted? {
        guard let event = try? CloudEvent(kafkaMessage: message),
            event.tenant == tenant || event.tenant == AttestationKeyPublished.tenant,
            let payload = try? EventCatalog.sigil.decode(event)
        else { return nil }
        switch payload {
        case is AttestationKeyPublished: break
        case let defined as ResourceDefined where event.tenant == tenant && Self.reads(defined.kind, beforeStart):
            break
        case let removed as ResourceRemoved where event.tenant == tenant && Self.reads(removed.kind, beforeStart):
            break
        default: return nil
        }
        guard context.isAuthentic(event, payload) else { return nil }
        // Typed here, on every core: a server workload's TLS configuration is the costly part of taking it in.
        var serverWorkload: EdgeServerWorkload?
        if let defined = payload as? ResourceDefined, defined.kind == .serverWorkload {
            serverWorkload = ServerWorkloadIndex.serverWorkload(defined)
        }
        return Admitted(event: event, payload: payload, serverWorkload: serverWorkload)
    }

    /// A configuration record to take in, and for a server workload's definition its typed form (nil: not
    /// understood).
    struct Admitted: Sendable {
        let event: CloudEvent
        let payload: any EventPayload
        let serverWorkload: EdgeServerWorkload?
    }

    /// The kinds whose changes the edge reads: server workloads (its routing) and access policies (what of a request
    /// they examine) always, and those that only decide access (their changes revoke credentials) once it has started.
    static func reads(_ kind: ResourceKind, _ beforeStart: Bool) -> Bool {
        kind == .serverWorkload || kind == .accessPolicy
            || (!beforeStart && [.clientWorkload, .trustProvider].contains(kind))
    }

    /// Takes in one admitted configuration event; returns the change to the server workloads it makes, if any.
    private func apply(_ admitted: Admitted) -> ServerWorkloadIndex.Change? {
        let (event, payload) = (admitted.event, admitted.payload)
        switch payload {
        case let published as AttestationKeyPublished:
            let now = Date()
            attestationKeys.withLock { keys in
                keys[published.keyID] = AttestationKey(
                    keyID: published.keyID, publicKey: published.publicKey.bytes,
                    notBefore: published.notBefore ?? .distantPast, notAfter: published.notAfter)
                keys = keys.filter { $0.value.notAfter > now }
            }
            context.logger.info("attestation key known", metadata: ["key": "\(published.keyID)"])
            return nil
        case let defined as ResourceDefined where defined.kind == .serverWorkload && event.tenant == tenant:
            // The rule every consumer shares: a write that lost a race is ignored everywhere.
            guard context.resources.catalog.apply(defined, tenant: tenant) else { return nil }
            accessChanged(.serverWorkload(defined.name))
            if let workload = admitted.serverWorkload { return .define(workload) }
            context.logger.warning("server workload not understood", metadata: ["name": "\(defined.name)"])
            return .remove(name: defined.name)
        case let removed as ResourceRemoved where removed.kind == .serverWorkload && event.tenant == tenant:
            guard context.resources.catalog.apply(removed, tenant: tenant) else { return nil }
            accessChanged(.serverWorkload(removed.name))
            return .remove(name: removed.name)
        case let defined as ResourceDefined where defined.kind == .accessPolicy && event.tenant == tenant:
            guard context.resources.catalog.apply(defined, tenant: tenant) else { return nil }
            // What it examines first, so a credential requested after the revocation is keyed by it.
            let spec = try? defined.spec.decode(AccessPolicySpec.self)
            if spec == nil {
                context.logger.warning("access policy not understood", metadata: ["name": "\(defined.name)"])
            }
            decisionInputs.apply(policy: defined.name, spec: spec)
            // A new or changed policy may deny what another granted: everything for its server workload goes, and
            // what was granted under its own name (its server workload may have changed).
            accessChanged(.accessPolicy(defined.name))
            if case .string(let server)? = defined.spec["serverWorkload"] { accessChanged(.serverWorkload(server)) }
            return nil
        case let removed as ResourceRemoved where removed.kind == .accessPolicy && event.tenant == tenant:
            guard context.resources.catalog.apply(removed, tenant: tenant) else { return nil }
            decisionInputs.apply(policy: removed.name, spec: nil)
            accessChanged(.accessPolicy(removed.name))
            return nil
        case is ResourceDefined where event.tenant == tenant, is ResourceRemoved where event.tenant == tenant:
            // A client workload or trust provider (what `admit` lets through besides).
            accessChanged(.identities)
            return nil
        default:
            return nil
        }
    }
}
