import SigilEvents
import SigilService

/// A server workload: an API reachable at scheme://host:port that clients get credentials for.
public struct ServerWorkloadSpec: Sendable {
    static func validate(_ spec: JSONValue) throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly(["scheme", "host", "port", "reportEachRequest"])
        let host = try reader.string("host").lowercased()
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            throw ProblemDetails.invalidField("spec.host", "spec.host must be a host name or IP address")
        }
        var reportEachRequest = false
        switch spec["reportEachRequest"] {
        case nil, .null: break
        case .bool(let value): reportEachRequest = value
        default:
            throw ProblemDetails.invalidField(
                "spec.reportEachRequest", "spec.reportEachRequest must be true or false")
        }
        return .object([
            "scheme": .string(try reader.oneOf("scheme", ["http", "https"], default: "https")),
            "host": .string(host),
            "port": .number(Double(try reader.int("port", in: 1...65_535))),
            "reportEachRequest": .bool(reportEachRequest),
        ])
    }

}
