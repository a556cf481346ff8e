import AsyncHTTPClient
import Foundation
import NIOCore
import SigilCrypto
import SigilService

/// S3-compatible object storage: the records of a time window as one gzip JSON-lines object,
/// `<prefix><tenant>/<yyyy>/<MM>/<dd>/<HH>/<first record's time>-<chain>-<sequence>-<count>.jsonl.gz` (the same batch
/// sent again writes the same key: no duplicate object).
struct S3Destination: Codable, Sendable, Equatable {
    static let type = "s3"

    var bucket: String
    var prefix: String
    var region: String
    var endpoint: String?
    var accessKeyID: String
    var secretAccessKey: String?
    var secretAccessKeyEncrypted: EncryptedValue?
    var windowSeconds: Int

    static let schema = SpecSchema.ObjectSchema(
        "S3-compatible object storage: gzip JSON lines, one object per time window.",
        [
            .init("type", .string(choices: [type]), required: true, "The destination's type."),
            .init(
                "bucket",
                .string(
                    maxLength: 63,
                    pattern: (regex: "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", meaning: "an S3 bucket name")),
                required: true, "The bucket."),
            .init(
                "prefix",
                .string(
                    maxLength: 512,
                    pattern: (regex: "^[A-Za-z0-9!_.*'()/-]*$", meaning: "S3 key characters safe in any tool")),
                default: "sigil/", "Key prefix."),
            .init(
                "region", .string(maxLength: 32, pattern: (regex: "^[a-z0-9-]+$", meaning: "an AWS region name")),
                default: "us-east-1", "The bucket's region (signs the requests)."),
            .init(
                "endpoint", .string(maxLength: 2048),
                "An S3-compatible endpoint (MinIO, Ceph, ...): path-style requests; AWS when absent."),
            .init(
                "accessKeyID", .string(maxLength: 128, pattern: (regex: "^[A-Za-z0-9]+$", meaning: "an access key id")),
                required: true, "The access key id of a principal that may only PutObject under the prefix."),
            .init(
                "secretAccessKey", .string(maxLength: 256), writeOnly: true,
                "Its secret key; encrypted at admission, never shown again."),
            .init(
                "secretAccessKeyEncrypted", .string(maxLength: 2048), readOnly: true,
                "The secret key as stored (encrypted). Accepted back unchanged."),
            .init(
                "windowSeconds", .integer(minimum: 1, maximum: 86_400), default: 60,
                "One object per this many seconds (or per 10,000 records, whichever first)."),
        ])

    func admitted(_ admission: Admission<LogStreamSpec>) throws -> Self {
        if let endpoint { try HTTPDestination.checkURL(endpoint, field: "spec.destination.endpoint") }
        var stored = self
        stored.secretAccessKey = nil
        stored.secretAccessKeyEncrypted = try LogStreamSecrets.admit(
            clear: secretAccessKey, encrypted: secretAccessKeyEncrypted, field: "secretAccessKey",
            admission: admission)
        return stored
    }

    /// Where requests go: the endpoint (path-style) or AWS (virtual-hosted style).
    func location(key: String) -> (url: String, host: String, path: String) {
        let encodedKey = SigV4Signer.encodePath(key)
        if let endpoint, let components = URLComponents(string: endpoint), let host = components.host {
            let authority = components.port.map { "\(host):\($0)" } ?? host
            let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
            let path = "/\(bucket)/\(encodedKey)"
            return (base + path, authority, path)
        }
        let host = "\(bucket).s3.\(region).amazonaws.com"
        return ("https://\(host)/\(encodedKey)", host, "/\(encodedKey)")
    }
}

/// PUTs each window's records as one object, signed with SigV4.
final class S3Sender: LogSender {
    let destination: S3Destination
    let signer: SigV4Signer
    let formatter: LogRecordFormatter
    let tenant: String
    let client: HTTPClient

    init(destination: S3Destination, secretAccessKey: String, formatter: LogRecordFormatter, tenant: String) throws {
        self.destination = destination
        self.signer = SigV4Signer(
            accessKeyID: destination.accessKeyID, secretAccessKey: secretAccessKey, region: destination.region)
        self.formatter = formatter
        self.tenant = tenant
        self.client = try HTTPDestination.client(ca: nil)
    }

    var window: Duration? { .seconds(destination.windowSeconds) }
    var batchLimit: Int { 10_000 }

    func send(_ records: [AuditRecord]) async throws {
        guard let first = records.first else { return }
        var lines: [UInt8] = []
        for record in records {
            lines += Array(formatter.text(record).utf8)
            lines.append(0x0A)
        }
        let body = try Gzip.compress(lines)
        let time = first.event.time
        let key =
            destination.prefix + tenant + "/" + SigV4Signer.timestamp(time, "yyyy/MM/dd/HH") + "/"
            + SigV4Signer.timestamp(time, "yyyyMMdd'T'HHmmss") + "-\(first.chain.topic)-\(first.chain.partition)"
            + "-\(first.sequence)-\(records.count).jsonl.gz"
        let (url, host, path) = destination.location(key: key)
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        for (name, value) in signer.sign(method: "PUT", host: host, path: path, payload: body, date: Date()) {
            request.headers.add(name: name, value: value)
        }
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.headers.add(name: "Content-Encoding", value: "gzip")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(60))
        } catch {
            throw LogDeliveryError(description: "PUT s3://\(destination.bucket)/\(key) failed: \(error)")
        }
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(response.status.code) else {
            throw LogDeliveryError(
                description: "PUT s3://\(destination.bucket)/\(key) answered \(response.status.code)")
        }
    }

    func close() async { try? await client.shutdown() }
}
