import SigilEvents

extension ResourceCache {
    /// The tenant's server workload at exactly this scheme, host and port, if any.
    public func serverWorkload(at target: AccessTarget, tenant: String) -> StoredResource? {
        all(.serverWorkload, tenant: tenant).first { resource in
            guard case .number(let port) = resource.spec["port"] else { return false }
            return resource.spec["host"]?.stringValue == target.host.lowercased() && Int(port) == target.port
                && resource.spec["scheme"]?.stringValue == target.scheme
        }
    }
}
