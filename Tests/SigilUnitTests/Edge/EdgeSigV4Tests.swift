import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import SigilEvents
import Testing

@testable import EdgeProxy

/// A SigV4 credential at the edge: the body read whole (up to the limit) and its hash signed, streamed bodies and
/// keep-alive intact. Part of `EdgeProxyTests`, whose tests run one at a time. (botocore checks the signatures
/// themselves in `SigV4SignerTests` and end to end.)
extension EdgeProxyTests {
    static let awsCredentials = AWSSigningCredentials(
        accessKeyID: "ASIAEXAMPLEKEY123456", secretAccessKey: "secret", sessionToken: "token", region: "us-east-1",
        service: "s3", signsPayload: true)

    @Test("a signed body reaches the upstream whole, its hash signed; chunked and sized bodies; one connection")
    func signedBodies() async throws {
        let requester = FakeAccessRequester(injection: .sigV4(Self.awsCredentials))
        try await withEdge(requester: requester) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let echo = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/echo", headers: ["X-Amz-Date": "19700101T000000Z"],
                    body: "hello")
                #expect(echo.status == 200)
                let hello = SHA256.hash(data: Data("hello".utf8)).map { String(format: "%02x", $0) }.joined()
                #expect(echo.text.contains(#"["x-amz-content-sha256","\#(hello)"]"#), "\(echo.text)")
                #expect(echo.text.contains("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLEKEY123456"), "\(echo.text)")
                #expect(!echo.text.contains("19700101T000000Z"), "the workload's own date is replaced")
                // A chunked upload of 3 MiB, then a sized one, on the same connection.
                let chunked = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/upload", streamedBytes: 3 * 1024 * 1024)
                #expect(chunked.status == 200 && chunked.text == String(3 * 1024 * 1024))
                let sized = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/upload",
                    headers: ["content-length": String(200_000)], streamedBytes: 200_000)
                #expect(sized.status == 200 && sized.text == "200000")
                #expect(try await connection.send(.GET, "http://127.0.0.1:\(upstream.port)/echo").status == 200)
            }
            #expect(requester.requests.withLockedValue { $0 } == 1, "one credential for every request")
        }
    }

    @Test("a body past SIGIL_EDGE_MAX_SIGNED_BODY_BYTES is refused 413, naming the limit; the edge serves on")
    func signedBodyLimit() async throws {
        let requester = FakeAccessRequester(injection: .sigV4(Self.awsCredentials))
        try await withEdge(requester: requester, configure: { $0.maxSignedBodyBytes = 16 * 1024 }) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let refused = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/upload", streamedBytes: 64 * 1024)
                #expect(refused.status == 413)
                #expect(refused.text.contains("body-too-large-to-sign") && refused.text.contains("16384"))
            }
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let small = try await connection.send(.PUT, "http://127.0.0.1:\(upstream.port)/upload", body: "ok")
                #expect(small.status == 200 && small.text == "2")
            }
        }
        // Unsigned payload (S3 only): nothing is read ahead, so no limit applies.
        let unsigned = AWSSigningCredentials(
            accessKeyID: "ASIA1", secretAccessKey: "s", sessionToken: nil, region: "us-east-1", service: "s3",
            signsPayload: false)
        try await withEdge(
            requester: FakeAccessRequester(injection: .sigV4(unsigned)),
            configure: { $0.maxSignedBodyBytes = 16 * 1024 }
        ) { edge, upstream in
            try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                let streamed = try await connection.send(
                    .PUT, "http://127.0.0.1:\(upstream.port)/upload", streamedBytes: 1024 * 1024)
                #expect(streamed.status == 200 && streamed.text == String(1024 * 1024))
            }
        }
    }

    @Test("load with SigV4: 5,000 signed requests with bodies on 16 keep-alive connections, each hash signed")
    func signedLoad() async throws {
        let requester = FakeAccessRequester(injection: .sigV4(Self.awsCredentials))
        try await withEdge(requester: requester) { edge, upstream in
            let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { tasks in
                for worker in 0..<16 {
                    tasks.addTask {
                        try await WorkloadConnection.with(proxyPort: edge.port, group: group) { connection in
                            var statuses: [Int: Int] = [:]
                            for index in 0..<(5_000 / 16) {
                                let body = String(repeating: "x", count: (worker * 31 + index) % 4_096)
                                let response = try await connection.send(
                                    .PUT, "http://127.0.0.1:\(upstream.port)/upload", body: body)
                                statuses[response.text == String(body.utf8.count) ? response.status : -1, default: 0] +=
                                    1
                            }
                            return statuses
                        }
                    }
                }
                var all: [Int: Int] = [:]
                for try await statuses in tasks { all.merge(statuses, uniquingKeysWith: +) }
                return all
            }
            #expect(statuses == [200: 16 * (5_000 / 16)], "every body arrived whole: \(statuses)")
            #expect(requester.requests.withLockedValue { $0 } == 1)
        }
    }
}
