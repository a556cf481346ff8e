/// Runs one admission at a time per tenant in this process, so that each sees the outcome of the one before.
/// (Writes from different replicas are ordered by the log instead: see `ResourceCatalog.takesEffect`.)
actor TenantSerializer {
    private var tails: [String: Task<Void, Never>] = [:]

    func run<T: Sendable>(tenant: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tails[tenant]
        let task = Task {
            await previous?.value
            return try await body()
        }
        tails[tenant] = Task { _ = try? await task.value }
        return try await task.value
    }
}
