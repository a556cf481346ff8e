import NIOHTTP1

/// The header rewriting of a forward proxy (RFC 9110 §7.6): hop-by-hop fields dropped, including those the
/// `Connection` field names; `Host` set from the request target; one `Via` line; the injected credential replacing
/// whatever the workload sent under that name.
enum ForwardedHeaders {
    static let via = "1.1 sigil-edge"

    static let hopByHop: Set<String> = [
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// The head sent upstream for a workload's request.
    static func request(
        _ head: HTTPRequestHead, authority: String, path: String, credential: HeldCredential?
    ) -> HTTPRequestHead {
        let dropped = droppedNames(head.headers)
        let injected = credential?.headerName.lowercased()
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 3)
        headers.add(name: "host", value: authority)
        var vias: [String] = []
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if lowered == "via" {
                vias.append(value)
                continue
            }
            // `Expect: 100-continue` is answered by the edge itself once it is ready for the body.
            if lowered == "host" || lowered == "expect" || lowered == injected || dropped.contains(lowered) { continue }
            headers.add(name: name, value: value)
        }
        if !head.headers.contains(name: "content-length"), head.isChunked {
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        vias.append(via)
        headers.add(name: "via", value: vias.joined(separator: ", "))
        if let credential { headers.add(name: credential.headerName, value: credential.headerValue) }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: path, headers: headers)
    }

    /// The head sent to the workload for an upstream's response.
    static func response(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        let dropped = droppedNames(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        var vias: [String] = []
        for (name, value) in head.headers {
            let lowered = name.lowercased()
            if lowered == "via" {
                vias.append(value)
            } else if !dropped.contains(lowered) {
                headers.add(name: name, value: value)
            }
        }
        vias.append(via)
        headers.add(name: "via", value: vias.joined(separator: ", "))
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// Hop-by-hop names plus those listed in `Connection`, lowercased.
    private static func droppedNames(_ headers: HTTPHeaders) -> Set<String> {
        let listed = headers[canonicalForm: "connection"]
        guard !listed.isEmpty else { return hopByHop }
        return hopByHop.union(listed.map { $0.lowercased() })
    }
}

extension HTTPRequestHead {
    /// Whether the body comes in chunks (`Transfer-Encoding: chunked`).
    var isChunked: Bool {
        headers[canonicalForm: "transfer-encoding"].contains { $0.lowercased() == "chunked" }
    }

    /// Whether a body follows the head.
    var hasBody: Bool {
        isChunked || (headers.first(name: "content-length").flatMap(Int.init) ?? 0) > 0
    }
}
