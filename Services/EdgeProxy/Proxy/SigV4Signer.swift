import Crypto
import Foundation
import NIOHTTP1
import SigilEvents

/// AWS Signature Version 4 (`AWS4-HMAC-SHA256`) for a request the edge forwards: the canonical request, the string to
/// sign, the derived key and the `Authorization` header, as AWS documents them and botocore computes them (the tests
/// compare with botocore on the same requests). No listed package signs SigV4 (the AWS SDKs are not among them); the
/// HMACs and hashes are swift-crypto's, only the canonical forms are written here.
///
/// Signed: `host`, `content-type`, `content-md5` when present, and every `x-amz-*` header (S3 requires those signed),
/// not headers a hop may change. The workload's own `Authorization`, `X-Amz-Date`, `X-Amz-Security-Token` and
/// `X-Amz-Content-SHA256` are replaced.
struct SigV4Signer {
    static let algorithm = "AWS4-HMAC-SHA256"
    static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// The headers the signature replaces (lower case).
    static let replaced = ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"]

    let credentials: AWSSigningCredentials

    /// Adds `X-Amz-Date`, `X-Amz-Security-Token` (temporary credentials), `X-Amz-Content-SHA256` (S3) and
    /// `Authorization` to `headers`, which already hold `host` and none of the replaced headers.
    func sign(method: String, uri: String, headers: inout HTTPHeaders, payloadHash: String, at moment: Date) {
        let (amzDate, day) = Self.timestamps(moment)
        headers.add(name: "x-amz-date", value: amzDate)
        if let token = credentials.sessionToken { headers.add(name: "x-amz-security-token", value: token) }
        if credentials.service == "s3" { headers.add(name: "x-amz-content-sha256", value: payloadHash) }
        let (canonical, signedHeaders) = canonicalRequest(
            method: method, uri: uri, headers: headers, payloadHash: payloadHash)
        let scope = "\(day)/\(credentials.region)/\(credentials.service)/aws4_request"
        let stringToSign = [Self.algorithm, amzDate, scope, Self.hex(SHA256.hash(data: Data(canonical.utf8)))]
            .joined(separator: "\n")
        let signature = Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day)))
        headers.add(
            name: "authorization",
            value: "\(Self.algorithm) Credential=\(credentials.accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), "
                + "Signature=\(signature)")
    }

    /// The canonical request and its `SignedHeaders` list.
    func canonicalRequest(
        method: String, uri: String, headers: HTTPHeaders, payloadHash: String
    ) -> (String, String) {
        let question = uri.firstIndex(of: "?")
        let path = question.map { String(uri[..<$0]) } ?? uri
        let query = question.map { String(uri[uri.index(after: $0)...]) } ?? ""
        var signed: [String: [String]] = [:]
        for (name, value) in headers {
            let lower = name.lowercased()
            guard lower == "host" || lower == "content-type" || lower == "content-md5" || lower.hasPrefix("x-amz-")
            else { continue }
            signed[lower, default: []].append(Self.trimmed(value))
        }
        let names = signed.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(signed[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonical = [
            method, canonicalPath(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash,
        ].joined(separator: "\n")
        return (canonical, signedHeaders)
    }

    /// The path with each segment encoded once (S3) or, dot segments removed, twice (every other service), as AWS
    /// reads it; an encoded `/` stays inside its segment.
    func canonicalPath(_ path: String) -> String {
        var segments: [String] = []
        for segment in path.split(separator: "/", omittingEmptySubsequences: false).dropFirst() {
            let decoded = String(segment).removingPercentEncoding ?? String(segment)
            let once = Self.encoded(decoded, keepingSlash: false)
            if credentials.service == "s3" {
                segments.append(once)
                continue
            }
            switch decoded {
            case ".": continue
            case "..": _ = segments.popLast()
            default: segments.append(Self.encoded(once, keepingSlash: false))
            }
        }
        return "/" + segments.joined(separator: "/")
    }

    /// Each name and value percent-decoded then encoded (unreserved characters kept), sorted by name then value.
    static func canonicalQuery(_ query: String) -> String {
        var pairs: [(name: String, value: String)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            let value = parts.count > 1 ? String(parts[1]) : ""
            pairs.append(
                (
                    encoded(name.removingPercentEncoding ?? name, keepingSlash: false),
                    encoded(value.removingPercentEncoding ?? value, keepingSlash: false)
                ))
        }
        pairs.sort { $0.name == $1.name ? $0.value < $1.value : $0.name < $1.name }
        return pairs.map { $0.name + "=" + $0.value }.joined(separator: "&")
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, day), region), service), "aws4_request").
    func signingKey(_ day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, credentials.region, credentials.service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    /// The payload's hash: hex SHA-256 of the body parts read, or `UNSIGNED-PAYLOAD` when the credentials do not
    /// sign it.
    func payloadHash(_ parts: [HTTPServerRequestPart]) -> String {
        guard credentials.signsPayload else { return Self.unsignedPayload }
        var hasher = SHA256()
        for case .body(let bytes) in parts {
            bytes.withUnsafeReadableBytes { hasher.update(bufferPointer: $0) }
        }
        return Self.hex(hasher.finalize())
    }

    /// `20150830T123600Z` and `20150830`, in UTC.
    static func timestamps(_ moment: Date) -> (String, String) {
        var seconds = time_t(moment.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let day = String(
            format: "%04d%02d%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        let time = String(format: "%02d%02d%02d", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
        return ("\(day)T\(time)Z", day)
    }

    static func trimmed(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// RFC 3986 unreserved characters kept (and `/`, in paths); every other byte as `%XX`, upper-case hex.
    static func encoded(_ text: String, keepingSlash: Bool) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
                UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            case UInt8(ascii: "/") where keepingSlash:
                result.append("/")
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
