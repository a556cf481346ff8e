import Foundation
import Logging
import Metrics
import SigilEvents
import Synchronization

/// Obtains a credential through the control plane (the access flow over Kafka in `sigil-edge`; a fake in tests).
protocol AccessRequester: Sendable {
    func requestCredential(
        for workload: EdgeServerWorkload, request: RequestAttributes, evidence: WorkloadEvidence.Gathered,
        deadline: ContinuousClock.Instant, logger: Logger
    ) async throws(EdgeRefusal) -> HeldCredential
}

/// Why the edge will not forward a request to a server workload.
struct EdgeRefusal: Error, Sendable {
    enum Kind: Sendable { case refused, unavailable }
    let kind: Kind
    let stage: String
    let code: String
    let detail: String
}

/// The credential for each request to a server workload: from the cache without a lock when held; otherwise one
/// access request per (server workload, evidence, request selection) however many requests wait for it (single
/// flight), and none for a moment after a refusal (`refusalHold`: the same refusal is given again); refreshed in the
/// background once 80% of its lifetime has passed, and used until it expires even if the refresh fails (static
/// stability: a control-plane outage does not stop traffic that holds credentials).
final class CredentialBroker: Sendable {
    enum Lookup: Sendable {
        case ready(HeldCredential)
        case refused(EdgeRefusal)
        /// Not held: `obtain` it (asynchronously).
        case needed(CredentialKey, WorkloadEvidence.Gathered, RequestAttributes)
    }

    let evidence: WorkloadEvidence
    /// What each server workload's decisions examine of a request (from the access policies).
    let inputs: DecisionInputIndex
    let cache: CredentialCache
    private let requester: any AccessRequester
    private let timeout: Duration
    /// How long a refusal is given again without asking (zero: never held).
    private let refusalHold: Duration
    private let logger: Logger
    private let inflight = Mutex<[CredentialKey: Task<Result<HeldCredential, EdgeRefusal>, Never>]>([:])
    private let fromCache = Counter(label: "sigil.edge.credentials", dimensions: [("source", "cache")])
    private let heldRefusals = Counter(label: "sigil.edge.credentials", dimensions: [("source", "held-refusal")])

    init(
        evidence: WorkloadEvidence, requester: any AccessRequester, timeout: Duration, logger: Logger,
        cache: CredentialCache = CredentialCache(), inputs: DecisionInputIndex = DecisionInputIndex(),
        refusalHold: Duration = .zero
    ) {
        self.refusalHold = refusalHold
        self.inputs = inputs
        self.evidence = evidence
        self.cache = cache
        self.requester = requester
        self.timeout = timeout
        self.logger = logger
    }

    /// The request path's synchronous lookup: three atomic loads and a dictionary read. `request` carries the
    /// headers the workload's policies route by (`inputs.inputs(for:)`), no others.
    func lookup(_ workload: EdgeServerWorkload, request: RequestAttributes, now: Date = Date()) -> Lookup {
        let gathered: WorkloadEvidence.Gathered
        switch evidence.current {
        case .success(let current): gathered = current
        case .failure:
            // No usable token yet: look at the file now rather than refuse until the next check (a rare path).
            evidence.refresh()
            switch evidence.current {
            case .success(let current): gathered = current
            case .failure(let error): return .refused(Self.refusal(error.problem))
            }
        }
        let selection = inputs.inputs(for: workload.name).map { RequestSelection(request, inputs: $0) } ?? .none
        let key = CredentialKey(serverWorkload: workload.name, evidenceDigest: gathered.digest, selection: selection)
        guard let held = cache.usable(key, at: now) else {
            if let refusal = cache.heldRefusal(key) {
                heldRefusals.increment()
                return .refused(refusal)
            }
            return .needed(key, gathered, request)
        }
        if now >= held.refreshAt,
            held.refreshClaimed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        {
            refresh(held, key: key, evidence: gathered, workload: workload, request: request)
        }
        fromCache.increment()
        return .ready(held)
    }

    /// Waits for the credential, sharing one access request with every concurrent request for the same key.
    /// The answer comes by `deadline` (counted from the first waiting request's arrival) or is a 503 refusal.
    func obtain(
        _ key: CredentialKey, evidence gathered: WorkloadEvidence.Gathered, workload: EdgeServerWorkload,
        request: RequestAttributes, deadline: ContinuousClock.Instant
    ) async -> Result<HeldCredential, EdgeRefusal> {
        await flight(key, evidence: gathered, workload: workload, request: request, deadline: deadline).value
    }

    private func flight(
        _ key: CredentialKey, evidence gathered: WorkloadEvidence.Gathered, workload: EdgeServerWorkload,
        request: RequestAttributes, deadline: ContinuousClock.Instant
    ) -> Task<Result<HeldCredential, EdgeRefusal>, Never> {
        inflight.withLock { inflight in
            if let running = inflight[key] { return running }
            let task = Task { [requester, cache, logger, refusalHold] in
                let result: Result<HeldCredential, EdgeRefusal>
                // A configuration change while the request was decided may have withdrawn what it grants: the
                // credential then serves the requests waiting for it, and is not kept.
                let revocations = cache.revocations
                do throws(EdgeRefusal) {
                    let held = try await requester.requestCredential(
                        for: workload, request: request, evidence: gathered, deadline: deadline, logger: logger)
                    cache.store(held, for: key, unlessRevokedSince: revocations)
                    result = .success(held)
                } catch {
                    if error.kind == .refused && refusalHold > .zero {
                        cache.hold(error, for: key, until: .now + refusalHold, unlessRevokedSince: revocations)
                    }
                    result = .failure(error)
                }
                _ = self.inflight.withLock { $0.removeValue(forKey: key) }
                return result
            }
            inflight[key] = task
            return task
        }
    }

    private func refresh(
        _ held: HeldCredential, key: CredentialKey, evidence gathered: WorkloadEvidence.Gathered,
        workload: EdgeServerWorkload, request: RequestAttributes
    ) {
        let task = flight(key, evidence: gathered, workload: workload, request: request, deadline: .now + timeout)
        Task { [logger, cache] in
            guard case .failure(let refusal) = await task.value else { return }
            if refusal.kind == .refused {
                // Refused now (e.g. the policy changed): fail closed; the next request gets the refusal while it is
                // held, then asks again.
                cache.remove(key)
                logger.notice(
                    "credential refresh refused; the held credential is dropped",
                    metadata: ["server.workload": "\(workload.name)", "reason": "\(refusal.code)"])
            } else {
                logger.warning(
                    "credential refresh failed; the held credential is used until it expires",
                    metadata: [
                        "server.workload": "\(workload.name)", "stage": "\(refusal.stage)", "reason": "\(refusal.code)",
                        "expires": "\(held.expiresAt)",
                    ])
                // Keep using the held credential until it expires; a request past 80% tries again a second later.
                try? await Task.sleep(for: .seconds(1))
                held.refreshClaimed.store(false, ordering: .relaxed)
            }
        }
    }

    static func refusal(_ problem: WorkloadEvidence.Problem) -> EdgeRefusal {
        let detail =
            switch problem.problem {
            case .unreadable: "the workload evidence file \(problem.path) cannot be read"
            case .empty: "the workload evidence file \(problem.path) is empty"
            case .unusable(let why): "the workload evidence file \(problem.path) is unusable: \(why)"
            case .tooLarge:
                "the workload evidence file \(problem.path) is larger than \(WorkloadEvidence.maximumBytes) bytes"
            }
        return EdgeRefusal(kind: .refused, stage: "edge", code: "evidence-unavailable", detail: detail)
    }
}
