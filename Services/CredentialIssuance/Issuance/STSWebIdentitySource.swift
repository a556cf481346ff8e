import AsyncHTTPClient
import Foundation
import FoundationXML
import NIOCore
import SigilEvents

/// Temporary AWS credentials from STS `AssumeRoleWithWebIdentity` (the Query API, form-encoded POST, XML answer; the
/// call itself is unsigned: the web identity token is the proof). Cached per tenant, provider version and workload
/// identity until a tenth of the session (at most five minutes) before it ends; one call at a time per key. STS's
/// refusals come back with its error code and message, never the token.
final class STSWebIdentitySource: Sendable {
    struct Session: Sendable {
        let accessKeyID: String
        let secretAccessKey: String
        let sessionToken: String
        let expiresAt: Date
        /// When the cache stops serving it.
        let refreshAt: Date
    }

    private let http: HTTPClient
    private let cache = SharedCredentialCache<Session> { $0.refreshAt }

    init(http: HTTPClient = OutboundHTTP.client) {
        self.http = http
    }

    /// A session for the workload, from the cache while it is fresh; `token` is only called when STS is.
    func session(
        for spec: AWSWebIdentityCredential, sessionName: String, cacheKey: String,
        token: @escaping @Sendable () async throws -> String
    ) async throws -> Session {
        try await cache.value(cacheKey) { [self] in
            try await assumeRole(spec, sessionName: sessionName, token: try await token())
        }
    }

    var cached: Int { cache.count }

    func assumeRole(_ spec: AWSWebIdentityCredential, sessionName: String, token: String) async throws -> Session {
        let form = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", spec.roleARN),
            ("RoleSessionName", sessionName), ("WebIdentityToken", token),
            ("DurationSeconds", String(spec.durationSeconds)),
        ]
        var request = HTTPClientRequest(url: spec.endpoint)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded; charset=utf-8")
        request.body = .bytes(OutboundHTTP.form(form))
        let endpoint = OutboundHTTP.redacted(spec.endpoint)
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: .seconds(10))
            body = try await response.body.collect(upTo: 256 * 1024)
        } catch {
            throw RefusalReason(code: "sts-unavailable", detail: "AWS STS at \(endpoint) did not answer")
        }
        let answer = STSAnswer(Data(buffer: body))
        guard (200..<300).contains(response.status.code), let accessKeyID = answer["AccessKeyId"],
            let secret = answer["SecretAccessKey"], let sessionToken = answer["SessionToken"],
            let expiration = answer["Expiration"].flatMap(Self.date)
        else {
            let code = answer["Code"].map { " " + Self.printable($0, 64) } ?? ""
            let message = answer["Message"].map { ": " + Self.printable($0, 256) } ?? ""
            throw RefusalReason(
                code: "sts-refused",
                detail: "AWS STS refused AssumeRoleWithWebIdentity for \(spec.roleARN) (\(response.status.code)"
                    + "\(code))\(message)")
        }
        let lifetime = max(1, expiration.timeIntervalSinceNow)
        return Session(
            accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: sessionToken, expiresAt: expiration,
            refreshAt: expiration.addingTimeInterval(-min(300, lifetime / 10)))
    }

    /// `sigil-<client workload>`, in the characters and length STS allows for `RoleSessionName` (`[\w+=,.@-]{2,64}`):
    /// CloudTrail shows it for every call the credentials make.
    static func sessionName(clientWorkload: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-")
        return String(("sigil-" + clientWorkload).map { allowed.contains($0) ? $0 : "-" }.prefix(64))
    }

    static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func printable(_ text: String, _ limit: Int) -> String {
        String(text.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }.prefix(limit).map(Character.init))
    }
}

/// The text of the elements of an STS answer that matter (`AccessKeyId`, …, or an error's `Code` and `Message`),
/// read with Foundation's XML parser (no external entities or DTDs are loaded).
struct STSAnswer {
    private var values: [String: String] = [:]

    init(_ data: Data) {
        let parser = XMLParser(data: data)
        parser.shouldResolveExternalEntities = false
        let reader = Reader()
        parser.delegate = reader
        if parser.parse() { values = reader.values }
    }

    subscript(_ element: String) -> String? { values[element] }

    private final class Reader: NSObject, XMLParserDelegate {
        static let wanted: Set<String> = [
            "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Code", "Message",
        ]
        var values: [String: String] = [:]
        var current: String?
        var text = ""

        func parser(
            _ parser: XMLParser, didStartElement element: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            current = Self.wanted.contains(element) ? element : nil
            text = ""
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            if current != nil, text.utf8.count < 8_192 { text += string }
        }

        func parser(
            _ parser: XMLParser, didEndElement element: String, namespaceURI: String?, qualifiedName: String?
        ) {
            if let current, current == element, values[current] == nil {
                values[current] = text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            current = nil
        }
    }
}
