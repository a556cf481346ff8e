import Foundation
import Hummingbird
import Prometheus
import SigilEvents

/// The open routes every service serves: `/healthz`, `/readyz`, `/metrics` and `/openapi.yaml`.
public struct OperationsController: Sendable {
    let readiness: Readiness
    let metrics: PrometheusCollectorRegistry
    let openAPIDocument: String

    public init(readiness: Readiness, metrics: PrometheusCollectorRegistry, openAPIDocument: String) {
        self.readiness = readiness
        self.metrics = metrics
        self.openAPIDocument = openAPIDocument
    }

    public func add(to router: Router<AdminRequestContext>) {
        router.get("/healthz") { _, _ in
            Self.json(.ok, ["status": "ok"])
        }
        router.get("/readyz") { _, _ in
            let report = await readiness.report()
            return Self.json(report.ready ? .ok : .serviceUnavailable, report)
        }
        router.get("/metrics") { _, _ in
            var buffer: [UInt8] = []
            metrics.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
        router.get("/openapi.yaml") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "application/yaml"],
                body: .init(byteBuffer: ByteBuffer(string: openAPIDocument))
            )
        }
        for path in ["/healthz", "/readyz", "/metrics", "/openapi.yaml"] {
            router.refuseOtherMethods(RouterPath(stringLiteral: path), allowed: [.get])
        }
    }

    /// A JSON response (sorted keys, RFC 3339 dates).
    public static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let data = (try? EventJSON.encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(data: data))
        )
    }
}
