import Synchronization

/// Something a service builds once from its context and shares between its resources, projections, routes and
/// workers (e.g. the issuance keyring), built on first use.
public final class ServicePart<Part: Sendable>: Sendable {
    private let part = Mutex<Part?>(nil)
    private let make: @Sendable (ServiceContext) throws -> Part

    public init(_ make: @escaping @Sendable (ServiceContext) throws -> Part) { self.make = make }

    public func get(_ context: ServiceContext) throws -> Part {
        try part.withLock { part in
            if let part { return part }
            let made = try make(context)
            part = made
            return made
        }
    }
}
