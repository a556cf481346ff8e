import Crypto

/// SHA-256 of pieces gathered into one buffer and hashed in one call. Hashing many short pieces one `update` at a
/// time costs more than the bytes themselves (every call goes through the digest's copy-on-write context); the
/// signing input of an event is a dozen pieces, hashed for every event read.
public enum GatheredHash {
    /// `write` hands over the pieces. `capacity` is the buffer's size: pieces beyond it are hashed as they come (the
    /// digest is the same), so a capacity too small costs speed, never correctness.
    public static func sha256(
        capacity: Int, _ write: (_ append: (UnsafeRawBufferPointer) -> Void) -> Void
    ) -> SHA256Digest {
        withUnsafeTemporaryAllocation(byteCount: max(capacity, 0), alignment: 1) { buffer in
            var hasher = SHA256()
            var count = 0
            write { piece in
                guard let source = piece.baseAddress, !piece.isEmpty else { return }
                if count + piece.count > buffer.count {
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                    count = 0
                    if piece.count > buffer.count {
                        hasher.update(bufferPointer: piece)
                        return
                    }
                }
                buffer.baseAddress!.advanced(by: count).copyMemory(from: source, byteCount: piece.count)
                count += piece.count
            }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[..<count]))
            return hasher.finalize()
        }
    }
}
