import Crypto
import SigilCrypto
import Testing

@Suite("A hash of gathered pieces")
struct GatheredHashTests {
    @Test("equals SHA-256 of the pieces joined, empty pieces and an exact capacity included")
    func joined() {
        let pieces: [[UInt8]] = [[], Array("sigil".utf8), [], [0, 1, 2], Array(repeating: 7, count: 1_500), []]
        let joined = pieces.flatMap { $0 }
        let gathered = GatheredHash.sha256(capacity: joined.count) { append in
            for piece in pieces { piece.withUnsafeBytes(append) }
        }
        #expect(gathered == SHA256.hash(data: joined))
        #expect(GatheredHash.sha256(capacity: 0) { _ in } == SHA256.hash(data: [UInt8]()))
    }
}
