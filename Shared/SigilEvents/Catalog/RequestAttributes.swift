/// What the edge saw of the workload's request that an access decision may use: its method and path (the query left
/// out), the workload's IP address as the edge's listener saw it, and the values of the headers that access policies
/// route credentials by (only those: the workload's other headers, its own secrets among them, never leave the edge).
public struct RequestAttributes: Codable, Sendable, Hashable {
    /// The method, upper case (`GET`).
    public var method: String
    /// The path, as the edge forwards it, without the query.
    public var path: String
    /// The workload's address (`10.0.3.7`, `::1`), absent when the edge could not tell.
    public var source: String?
    /// Header values by lower-case name, for the headers access policies route by.
    public var headers: [String: String]

    public init(method: String, path: String, source: String? = nil, headers: [String: String] = [:]) {
        self.method = method
        self.path = path
        self.source = source
        self.headers = headers
    }

    private enum CodingKeys: String, CodingKey { case method, path, source, headers }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        method = try container.decode(String.self, forKey: .method)
        path = try container.decode(String.self, forKey: .path)
        source = try container.decodeIfPresent(String.self, forKey: .source)
        headers = try container.decodeIfPresent([String: String].self, forKey: .headers) ?? [:]
    }
}

/// Path prefixes as Sigil compares them: by whole segments, so `/admin` covers `/admin` and `/admin/users` but not
/// `/administrator`; `/` covers every path. A path is compared only in its canonical form (see `isCanonical`), so
/// `/public/../admin` can never pass for `/public`.
public enum PathPrefix {
    public static func covers(_ prefix: String, _ path: String) -> Bool {
        if prefix == "/" || prefix == path { return true }
        guard path.hasPrefix(prefix) else { return false }
        if prefix.hasSuffix("/") { return true }
        return path.utf8.dropFirst(prefix.utf8.count).first == UInt8(ascii: "/")
    }

    /// Whether a path means one thing to every server: it starts with `/` and has no `.` or `..` segment, no
    /// backslash, no NUL or control character, and no percent-encoded `/`, `\`, `.` or `%` (which a server may decode
    /// after Sigil matched). Other percent escapes are kept as they are.
    public static func isCanonical(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return false }
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\\") { return false }
            if byte == UInt8(ascii: "%") {
                guard index + 2 < bytes.count else { return false }
                let escape = String(decoding: bytes[(index + 1)...(index + 2)], as: UTF8.self).uppercased()
                if ["2F", "5C", "2E", "25", "00"].contains(escape) { return false }
                index += 3
                continue
            }
            index += 1
        }
        return !path.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
    }
}
