import SigilEvents

/// What verified evidence says about a workload, by attribute name: a token's claims with nested ones by dotted path
/// (`kubernetes.io.namespace`), a certificate's SPIFFE ID and SANs, a document's account and region. A claim holding
/// a list has each of its values. Bounded, whatever the evidence holds: 8 levels, 1 KiB and 64 values per attribute
/// (the evidence itself is size-bounded, a token to 16 KiB, so the number of attributes is too; no claim is dropped
/// for being one too many, which could drop the one that identifies).
package struct WorkloadAttributes: Sendable, Equatable {
    package private(set) var values: [String: [String]] = [:]

    static let maximumDepth = 8
    static let maximumValueLength = 1024

    package init(_ values: [String: [String]] = [:]) { self.values = values }

    /// Every scalar of a JSON object, by path.
    init(claims: JSONValue) {
        add(claims, path: "", depth: 0)
    }

    package func first(_ name: String) -> String? { values[name]?.first }

    mutating func set(_ name: String, _ value: String) { values[name] = [value] }

    mutating func add(_ name: String, _ value: String) {
        guard value.utf8.count <= Self.maximumValueLength, (values[name]?.count ?? 0) < 64 else { return }
        values[name, default: []].append(value)
    }

    private mutating func add(_ value: JSONValue, path: String, depth: Int) {
        guard depth <= Self.maximumDepth else { return }
        switch value {
        case .object(let members):
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                add(member, path: path.isEmpty ? key : "\(path).\(key)", depth: depth + 1)
            }
        case .array(let elements):
            for element in elements {
                switch element {
                case .object, .array: continue  // lists of objects identify nothing by path
                default: add(element, path: path, depth: depth + 1)
                }
            }
        case .string(let text): add(path, text)
        case .bool(let flag): add(path, flag ? "true" : "false")
        case .number(let number):
            add(path, number == number.rounded() && abs(number) < 9.0e15 ? String(Int64(number)) : String(number))
        case .null: break
        }
    }
}

/// One piece of evidence, verified: which trust provider vouched for it, and what it says.
package struct VerifiedEvidence: Sendable, Equatable {
    package let trustProvider: String
    /// The trust provider's type (`github-actions`, `x509`, ...).
    package let type: String
    package let attributes: WorkloadAttributes
    /// The attributes that identify the workload, for the attestation event (never a secret).
    package let published: [String: String]

    package init(trustProvider: String, type: String, attributes: WorkloadAttributes, published names: [String]) {
        self.trustProvider = trustProvider
        self.type = type
        self.attributes = attributes
        var published: [String: String] = [:]
        for name in names {
            if let value = attributes.first(name) { published[name] = String(value.prefix(256)) }
        }
        self.published = published
    }
}
