import Crypto
import SigilCrypto
import Testing

@Suite("A hash of gathered pieces")
struct GatheredHashTests {
    @Test("equals SHA-256 of the pieces joined, empty pieces, an exact and a too small capacity included")
    func joined() {
        let pieces: [[UInt8]] = [[], Array("sigil".utf8), [], [0, 1, 2], Array(repeating: 7, count: 1_500), []]
        let joined = pieces.flatMap { $0 }
        let gathered = GatheredHash.sha256(capacity: joined.count) { append in
            for piece in pieces { piece.withUnsafeBytes(append) }
        }
        #expect(gathered == SHA256.hash(data: joined))
        // A capacity too small: the same digest, pieces beyond it hashed as they come.
        for capacity in [1, 4, 100] {
            let overflowing = GatheredHash.sha256(capacity: capacity) { append in
                for piece in pieces { piece.withUnsafeBytes(append) }
            }
            #expect(overflowing == SHA256.hash(data: joined), "capacity \(capacity)")
        }
        #expect(GatheredHash.sha256(capacity: 0) { _ in } == SHA256.hash(data: [UInt8]()))
    }
}
