import Foundation
import NIOCore
import NIOHTTP1
import SigilEvents

/// The credential for a request to a server workload: what of the request its policies may examine, and obtaining the
/// credential when the cache does not hold it (the connection's reads pause meanwhile).
extension ProxyHandler {
    /// What the workload's policies may examine of the request: its method, path and address, and the headers they
    /// route by (each present at most once: two values would leave the upstream and Sigil reading different ones).
    func requestAttributes(
        _ head: HTTPRequestHead, method: String, path: String, workload: EdgeServerWorkload
    ) -> Result<RequestAttributes, ProxyProblem> {
        var request = RequestAttributes(method: method, path: path, source: sourceAddress)
        guard let inputs = environment.credentials.inputs.inputs(for: workload.name) else { return .success(request) }
        if !inputs.pathPrefixes.isEmpty, !PathPrefix.isCanonical(path) { return .failure(.ambiguousPath) }
        for name in inputs.headers {
            let values = head.headers[name]
            guard values.count <= 1 else {
                return .failure(
                    .badRequest(
                        "ambiguous-header", "the request has \(name) more than once; its access policies route by it"))
            }
            if let value = values.first { request.headers[name] = value }
        }
        return .success(request)
    }

    func obtainCredential(
        _ key: CredentialKey, evidence: WorkloadEvidence.Gathered, workload: EdgeServerWorkload,
        request: RequestAttributes
    ) {
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let generation = self.generation
        let credentials = environment.credentials
        let arrival = exchange!.arrival.uptimeNanoseconds
        let deadline =
            ContinuousClock.now
            - .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds) - Int64(arrival))
            + environment.configuration.timeout
        let eventLoop = context.eventLoop
        Task {
            let result = await credentials.obtain(
                key, evidence: evidence, workload: workload, request: request, deadline: deadline)
            eventLoop.execute {
                let handler = loopBound.value
                guard handler.generation == generation, case .preparing = handler.phase else { return }
                switch result {
                case .success(let credential):
                    handler.exchange?.credential = credential
                    handler.proceed()
                case .failure(let refusal):
                    handler.refuse(ProxyProblem(refusal: refusal))
                }
            }
        }
    }

    /// With the credential in hand: on to the upstream, unless the credential signs the body (SigV4), which is then
    /// read whole first (up to `SIGIL_EDGE_MAX_SIGNED_BODY_BYTES`).
    func proceed() {
        guard case .sigV4(let aws) = exchange?.credential?.injection, aws.signsPayload, var exchange,
            !exchange.requestEnded
        else { return connectUpstream() }
        exchange.collecting = true
        self.exchange = exchange
        if exchange.buffered.isEmpty, exchange.head.expectsContinue {
            context.writeAndFlush(
                wrapOutboundOut(.head(HTTPResponseHead(version: exchange.head.version, status: .continue))),
                promise: nil)
        }
        collected(
            exchange.buffered.reduce(0) {
                if case .body(let bytes) = $1 { return $0 + bytes.readableBytes }
                return $0
            })
        readIfWanted()
    }

    /// Counts body bytes read to be signed; past the limit, the request is refused.
    func collected(_ count: Int) {
        guard var exchange else { return }
        exchange.collectedBytes += count
        self.exchange = exchange
        let limit = environment.configuration.maxSignedBodyBytes
        guard exchange.collectedBytes > limit else { return }
        refuse(
            ProxyProblem(
                status: .payloadTooLarge, slug: "body-too-large-to-sign",
                detail:
                    "the request body is larger than \(limit) bytes, the most this edge reads whole to sign it (SigV4); an S3 credential provider can use payload: unsigned"
            ))
    }
}
