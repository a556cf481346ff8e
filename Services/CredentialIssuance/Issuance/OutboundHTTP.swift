import AsyncHTTPClient
import Foundation
import NIOCore

/// The HTTP client sigil-issue calls third parties with (authorization servers, AWS STS).
enum OutboundHTTP {
    /// One client for the process's lifetime (never shut down, so never deinitialized: AsyncHTTPClient traps on a
    /// client dropped without `shutdown()`); no redirects, so a secret or token never follows one to another host.
    static let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)

    static var configuration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(3), read: .seconds(10))
        configuration.redirectConfiguration = .disallow
        return configuration
    }

    /// An `application/x-www-form-urlencoded` body.
    static func form(_ fields: [(String, String)]) -> ByteBuffer {
        ByteBuffer(string: fields.map { "\(formEncoded($0.0))=\(formEncoded($0.1))" }.joined(separator: "&"))
    }

    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._*")
        return (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "").replacingOccurrences(
            of: "%20", with: "+")
    }

    /// A URL without its query, for messages (a query may carry a secret).
    static func redacted(_ url: String) -> String { String(url.split(separator: "?", maxSplits: 1).first ?? "") }
}
