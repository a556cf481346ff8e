import Crypto

/// SHA-256 of pieces gathered into one buffer and hashed in one call. Hashing many short pieces one `update` at a
/// time costs more than the bytes themselves (every call goes through the digest's copy-on-write context); the
/// signing input of an event is a dozen pieces, hashed for every event read.
public enum GatheredHash {
    /// `write` hands over the pieces, at most `capacity` bytes in all.
    public static func sha256(
        capacity: Int, _ write: (_ append: (UnsafeRawBufferPointer) -> Void) -> Void
    ) -> SHA256Digest {
        withUnsafeTemporaryAllocation(byteCount: capacity, alignment: 1) { buffer in
            var count = 0
            write { piece in
                precondition(count + piece.count <= buffer.count, "more bytes than the capacity given")
                guard let source = piece.baseAddress, !piece.isEmpty else { return }
                buffer.baseAddress!.advanced(by: count).copyMemory(from: source, byteCount: piece.count)
                count += piece.count
            }
            var hasher = SHA256()
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            return hasher.finalize()
        }
    }
}
