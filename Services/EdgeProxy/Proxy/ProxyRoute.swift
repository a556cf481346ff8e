import NIOHTTP1
import SigilEvents

/// Where a workload's request goes, decided from its head alone, before any byte is forwarded.
enum ProxyRoute: Equatable {
    /// An absolute-form request (`GET http://host:port/path`, or `https://` for TLS the edge originates): forward to
    /// `target`, asking for `path`.
    case forward(target: AccessTarget, authority: String, path: String)
    /// `CONNECT host:port`: a byte tunnel.
    case tunnel(host: String, port: Int)

    /// The route of a request head, or the problem that refuses it (400, 501).
    static func of(_ head: HTTPRequestHead) -> Result<ProxyRoute, ProxyProblem> {
        if let problem = framingProblem(head.headers) { return .failure(problem) }
        if head.method == .CONNECT {
            guard let target = authority(head.uri, scheme: "https") else {
                return .failure(
                    .badRequest("malformed-request", "CONNECT needs host:port, e.g. CONNECT api.example:443"))
            }
            return .success(.tunnel(host: target.host, port: target.port))
        }
        let scheme: String
        if head.uri.hasPrefix("http://") {
            scheme = "http"
        } else if head.uri.hasPrefix("https://") {
            // Plain HTTP to the edge asking for an https URL: the edge originates the TLS (https server workloads).
            scheme = "https"
        } else {
            return .failure(
                .badRequest("not-a-proxy-request", "send absolute-form requests (set HTTP_PROXY to this address)"))
        }
        let rest = head.uri.dropFirst(scheme.count + 3)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authorityText = String(rest[..<end])
        guard let target = authority(authorityText, scheme: scheme) else {
            return .failure(.badRequest("malformed-request", "the request's authority is not host[:port]"))
        }
        var path = String(rest[end...])
        if let fragment = path.firstIndex(of: "#") { path = String(path[..<fragment]) }
        if !path.hasPrefix("/") { path = "/" + path }
        return .success(.forward(target: target, authority: authorityText, path: path))
    }

    /// `host[:port]` or `[v6]:port`, with a host made of name characters only (no user info, no NUL, no spaces).
    static func authority(_ text: String, scheme: String) -> AccessTarget? {
        let defaultPort = scheme == "https" ? 443 : 80
        guard !text.isEmpty, text.utf8.count <= 300 else { return nil }
        let host: Substring
        let portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":") else { return nil }
            portText = rest.isEmpty ? nil : rest.dropFirst()
            guard !host.isEmpty, host.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return nil }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, !parts[0].isEmpty else { return nil }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
            guard
                host.utf8.allSatisfy({ byte in
                    (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                        || byte == 0x2E || byte == 0x2D || byte == 0x5F
                })
            else { return nil }
        }
        var port = defaultPort
        if let portText {
            guard portText.count <= 5, portText.allSatisfy(\.isASCII), let parsed = Int(portText),
                (1...65_535).contains(parsed)
            else { return nil }
            port = parsed
        }
        return AccessTarget(scheme: scheme, host: host.lowercased(), port: port)
    }

    /// Request smuggling: a body length given two ways, or two different lengths (RFC 9112 §6.3). The parser
    /// refuses most of these already; this is the same rule stated where the proxy can name it.
    static func framingProblem(_ headers: HTTPHeaders) -> ProxyProblem? {
        guard headers.contains(name: "content-length") else { return nil }
        let lengths = headers[canonicalForm: "content-length"]
        if !lengths.isEmpty && headers.contains(name: "transfer-encoding") {
            return .badRequest("request-smuggling", "both Content-Length and Transfer-Encoding are present")
        }
        if Set(lengths).count > 1 {
            return .badRequest("request-smuggling", "the request has different Content-Length values")
        }
        return nil
    }
}

extension ProxyRoute {
    /// The https server workload a plain `http://` request may mean: the same host, at the port written, or 443 when
    /// none is (`http://api.example/v1` reaches an https server workload at api.example:443).
    static func httpsTarget(of target: AccessTarget, authority: String) -> AccessTarget? {
        guard target.scheme == "http" else { return nil }
        return Self.authority(authority, scheme: "https")
    }
}
