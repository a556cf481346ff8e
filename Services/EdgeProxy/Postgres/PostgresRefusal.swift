import NIOCore

/// Why the edge ends a workload's PostgreSQL connection before it is relayed, as the `ErrorResponse` psql and
/// drivers show: SQLSTATE 28000 for Sigil's refusals (policy, credential, authentication the edge does not use),
/// 08001 when the database cannot be reached, 08P01 for a protocol violation, and the database's own error as it sent
/// it, except that a refused login is reworded (the workload did not choose the credential).
enum PostgresRefusal: Error {
    /// Sigil refused: policy, attestation, a credential that does not fit.
    case refused(String)
    /// No credential in time (the control plane did not answer).
    case unavailable(String)
    /// The database is down, unreachable, or its TLS does not verify.
    case unreachable(String)
    /// The database asks for an authentication the edge does not perform.
    case unsupported(String)
    /// Bytes that are not the protocol.
    case protocolViolation(String)
    /// The database's own `ErrorResponse` fields.
    case database([Character: String])

    /// The database refused the credential Sigil issued (class 28: invalid authorization): the held credential is
    /// dropped, so the next connection asks for a new one.
    var rejectsCredential: Bool {
        if case .database(let fields) = self { return fields["C"]?.hasPrefix("28") ?? false }
        return false
    }

    var code: String {
        switch self {
        case .refused, .unsupported: return "28000"
        case .unreachable, .unavailable: return "08001"
        case .protocolViolation: return "08P01"
        case .database(let fields): return fields["C"] ?? "XX000"
        }
    }

    var message: String {
        switch self {
        case .refused(let detail), .unavailable(let detail): return "sigil: " + detail
        case .unreachable(let detail): return "sigil: the database cannot be reached: " + detail
        case .unsupported(let detail): return "sigil: the database asks for " + detail
        case .protocolViolation(let detail): return "sigil: " + detail
        case .database(let fields):
            let said = fields["M"] ?? "no message"
            return rejectsCredential ? "sigil: the database refused the credential Sigil issued: \(said)" : said
        }
    }

    var errorResponse: ByteBuffer { PostgresWire.errorResponse(code: code, message: message) }

    init(_ refusal: EdgeRefusal) {
        let said = "\(refusal.stage) refused (\(refusal.code)): \(refusal.detail)"
        self = refusal.kind == .refused ? .refused(said) : .unavailable(said)
    }
}
