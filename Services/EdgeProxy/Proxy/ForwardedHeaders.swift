import Foundation
import NIOHTTP1

/// The header rewriting of a forward proxy (RFC 9110 §7.6): hop-by-hop fields dropped, including those the
/// `Connection` field names; `Host` set from the request target; one `Via` line; the injected credential replacing
/// whatever the workload sent under that name (a header, or a query parameter), or the request signed (SigV4).
enum ForwardedHeaders {
    static let via = "1.1 sigil-edge"

    static let hopByHop = [
        "connection", "proxy-connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer",
        "transfer-encoding", "upgrade",
    ]

    /// The head sent upstream for a workload's request; `payloadHash` is the body's, for a SigV4 credential.
    static func request(
        _ head: HTTPRequestHead, authority: String, path: String, credential: HeldCredential?,
        payloadHash: String = SigV4Signer.unsignedPayload, now: Date? = nil
    ) -> HTTPRequestHead {
        let listed = connectionListed(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 3)
        headers.add(name: "host", value: authority)
        var vias: [String] = []
        var chunked = false
        var hasLength = false
        for (name, value) in head.headers {
            if name.equalsIgnoringCase("via") {
                vias.append(value)
                continue
            }
            if name.equalsIgnoringCase("transfer-encoding") {
                chunked = chunked || value.equalsIgnoringCase("chunked")
                continue
            }
            if name.equalsIgnoringCase("content-length") { hasLength = true }
            // `Expect: 100-continue` is answered by the edge itself once it is ready for the body.
            if name.equalsIgnoringCase("host") || name.equalsIgnoringCase("expect") || isHopByHop(name)
                || (credential?.replaces(name) ?? false)
                || listed.contains(where: { name.equalsIgnoringCase($0) })
            {
                continue
            }
            headers.add(name: name, value: value)
        }
        if chunked && !hasLength { headers.add(name: "transfer-encoding", value: "chunked") }
        headers.add(name: "via", value: vias.isEmpty ? via : vias.joined(separator: ", ") + ", " + via)
        var uri = path
        switch credential?.injection {
        case .header(let name, let value): headers.add(name: name, value: value)
        case .query(let parameter, let value): uri = injecting(parameter, value, into: path)
        case .sigV4(let aws):
            SigV4Signer(credentials: aws).sign(
                method: head.method.rawValue, uri: uri, headers: &headers, payloadHash: payloadHash, at: now ?? Date())
        case .clientCertificate, .postgres, nil: break  // a postgres login never reaches HTTP (`AccessClient`)
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
    }

    /// `path` with `parameter=value` (the value percent-encoded) as its query's last pair, every pair the workload
    /// sent under that name (as it is, or percent-encoded) taken out.
    static func injecting(_ parameter: String, _ value: String, into path: String) -> String {
        let question = path.firstIndex(of: "?")
        let base = question.map { path[..<$0] } ?? Substring(path)
        var pairs: [Substring] = []
        if let question {
            for pair in path[path.index(after: question)...].split(separator: "&", omittingEmptySubsequences: true) {
                let name = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
                if (String(name).removingPercentEncoding ?? String(name)) == parameter { continue }
                pairs.append(pair)
            }
        }
        let encoded = value.addingPercentEncoding(withAllowedCharacters: queryValueCharacters) ?? ""
        pairs.append(Substring("\(parameter)=\(encoded)"))
        return base + "?" + pairs.joined(separator: "&")
    }

    /// RFC 3986 unreserved characters: everything else in a value is percent-encoded.
    static let queryValueCharacters = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// The head sent to the workload for an upstream's response.
    static func response(_ head: HTTPResponseHead, version: HTTPVersion, keepAlive: Bool) -> HTTPResponseHead {
        let listed = connectionListed(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        var vias: [String] = []
        for (name, value) in head.headers {
            if name.equalsIgnoringCase("via") {
                vias.append(value)
            } else if !isHopByHop(name) && !listed.contains(where: { name.equalsIgnoringCase($0) }) {
                headers.add(name: name, value: value)
            }
        }
        headers.add(name: "via", value: vias.isEmpty ? via : vias.joined(separator: ", ") + ", " + via)
        if !keepAlive {
            headers.add(name: "connection", value: "close")
        } else if version.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    static func isHopByHop(_ name: String) -> Bool {
        hopByHop.contains { name.equalsIgnoringCase($0) }
    }

    /// The field names a `Connection` header lists (also hop-by-hop); usually none.
    private static func connectionListed(_ headers: HTTPHeaders) -> [Substring] {
        guard headers.contains(name: "connection") else { return [] }
        return headers[canonicalForm: "connection"]
    }
}

extension StringProtocol {
    /// ASCII case-insensitive equality, without allocating (header names are ASCII tokens).
    func equalsIgnoringCase(_ other: some StringProtocol) -> Bool {
        guard utf8.count == other.utf8.count else { return false }
        for (left, right) in zip(utf8, other.utf8) where left != right {
            let lowerLeft = left >= 0x41 && left <= 0x5A ? left | 0x20 : left
            let lowerRight = right >= 0x41 && right <= 0x5A ? right | 0x20 : right
            if lowerLeft != lowerRight { return false }
        }
        return true
    }
}

extension HTTPRequestHead {
    /// Whether the body comes in chunks (`Transfer-Encoding: chunked`).
    var isChunked: Bool {
        headers.contains(name: "transfer-encoding")
            && headers[canonicalForm: "transfer-encoding"].contains { $0.equalsIgnoringCase("chunked") }
    }

    /// Whether the workload waits for `100 Continue` before sending the body.
    var expectsContinue: Bool {
        headers.contains(name: "expect")
            && headers[canonicalForm: "expect"].contains(where: { $0.equalsIgnoringCase("100-continue") })
    }

    /// Whether a body follows the head.
    var hasBody: Bool {
        isChunked || (headers.first(name: "content-length").flatMap(Int.init) ?? 0) > 0
    }
}
