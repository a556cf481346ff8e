import Foundation

/// URLs in resources that a service will call with a secret (a SIEM's collector, a posture feed's API): absolute,
/// without credentials or fragment, and `https` — plain `http` only to this host, so a secret never crosses a
/// network in clear.
public enum OutboundURL {
    public static func check(_ text: String, field: String) throws {
        guard let url = URLComponents(string: text), let scheme = url.scheme, let host = url.host, !host.isEmpty,
            url.user == nil, url.password == nil, url.fragment == nil
        else {
            throw ProblemDetails.invalidField(field, "\(field) must be an absolute http(s) URL without credentials")
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw ProblemDetails.invalidField(
                field, "\(field) must be https (plain http only to this host: secrets never cross a network in clear)")
        }
    }
}
