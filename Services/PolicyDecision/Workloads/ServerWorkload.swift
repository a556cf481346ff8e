import SigilEvents
import SigilService

/// A server workload: an API reachable at scheme://host:port that clients get credentials for.
public struct ServerWorkloadSpec: Sendable {
    static func validate(_ spec: JSONValue) throws -> JSONValue {
        let reader = SpecReader(spec)
        try reader.allowOnly(["scheme", "host", "port"])
        let host = try reader.string("host").lowercased()
        guard host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == ":" }) else {
            throw ProblemDetails.invalidField("spec.host", "spec.host must be a host name or IP address")
        }
        return .object([
            "scheme": .string(try reader.oneOf("scheme", ["http", "https"], default: "https")),
            "host": .string(host),
            "port": .number(Double(try reader.int("port", in: 1...65_535))),
        ])
    }

}
