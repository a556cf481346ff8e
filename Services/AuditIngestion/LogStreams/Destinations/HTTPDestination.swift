import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import SigilService

/// What the HTTP destinations share: an `https` URL (plain `http` only to this host), optional PEM authorities for a
/// private CA, and one client per stream.
enum HTTPDestination {
    static func checkURL(_ text: String, field: String) throws { try OutboundURL.check(text, field: field) }

    static func checkCA(_ ca: String?, field: String) throws {
        guard let ca else { return }
        guard let certificates = try? NIOSSLCertificate.fromPEMBytes(Array(ca.utf8)), !certificates.isEmpty else {
            throw ProblemDetails.invalidField(field, "\(field) must hold PEM certificates")
        }
    }

    static func client(ca: String?) throws -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.minimumTLSVersion = .tlsv12
        if let ca { tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(ca.utf8))) }
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(30))
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    /// POSTs a JSON body; returns the response body when the status is 2xx, throws naming the status otherwise
    /// (never the body: a receiver may echo what it was sent).
    static func post(
        _ client: HTTPClient, url: String, headers: [(String, String)], body: [UInt8]
    ) async throws -> ByteBuffer {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "sigil-audit")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            throw LogDeliveryError(description: "POST \(redacted(url)) failed: \(error)")
        }
        let answer = try await response.body.collect(upTo: 1024 * 1024)
        guard (200..<300).contains(response.status.code) else {
            throw LogDeliveryError(description: "POST \(redacted(url)) answered \(response.status.code)")
        }
        return answer
    }

    /// The URL without its query (which could carry a key).
    static func redacted(_ url: String) -> String {
        String(url.split(separator: "?", maxSplits: 1).first ?? "")
    }
}
