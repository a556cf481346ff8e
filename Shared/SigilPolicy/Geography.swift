import SigilService

/// Where an address is, as a geolocation database says: an ISO 3166-1 country code and ISO 3166-2 subdivision codes
/// (`US-CA`), the most general first.
package struct GeoLocation: Sendable, Hashable, CustomStringConvertible {
    package let country: String?
    package let subdivisions: [String]

    package init(country: String?, subdivisions: [String] = []) {
        self.country = country
        self.subdivisions = subdivisions
    }

    package var description: String {
        ([country ?? "unknown country"] + subdivisions).joined(separator: " / ")
    }
}

/// Locates addresses (`SigilGeography.GeoDatabaseFile` reads a MaxMind-format database with libmaxminddb).
package protocol GeoLocator: Sendable {
    /// The location of `address`, or nil when the database has no record of it.
    func locate(_ address: IPAddress) -> GeoLocation?
}

/// A geography condition: the workload's address is in one of `countries` (ISO 3166-1 alpha-2, `DE`) or one of
/// `subdivisions` (ISO 3166-2, `US-CA`). An address the database does not know, or no database, fails it: to refuse
/// unknown places, put geography on the allow (a deny by geography does not apply to an unknown place).
package struct GeographyCondition: Codable, Sendable, Equatable, CustomStringConvertible {
    static let schema = SpecSchema.ObjectSchema(
        "Countries or subdivisions the workload's address must be in (by the policy service's geolocation database).",
        [
            .init(
                "countries",
                .array(
                    of: .string(
                        maxLength: 2, pattern: (regex: "^[A-Z]{2}$", meaning: "an ISO 3166-1 alpha-2 code (DE)")),
                    minItems: 1, maxItems: 250),
                "ISO 3166-1 alpha-2 country codes."),
            .init(
                "subdivisions",
                .array(
                    of: .string(
                        maxLength: 6,
                        pattern: (regex: "^[A-Z]{2}-[A-Z0-9]{1,3}$", meaning: "an ISO 3166-2 code (US-CA, DE-BY)")),
                    minItems: 1, maxItems: 500),
                "ISO 3166-2 subdivision codes."),
        ])

    package var countries: [String]?
    package var subdivisions: [String]?

    package init(countries: [String]? = nil, subdivisions: [String]? = nil) {
        self.countries = countries
        self.subdivisions = subdivisions
    }

    func check(at path: String) throws {
        guard countries != nil || subdivisions != nil else {
            throw ProblemDetails.invalidField(path, "\(path) needs countries or subdivisions")
        }
    }

    package func holds(for location: GeoLocation) -> Bool {
        if let country = location.country, countries?.contains(country) == true { return true }
        return location.subdivisions.contains { subdivisions?.contains($0) == true }
    }

    package var description: String {
        ((countries ?? []) + (subdivisions ?? [])).joined(separator: ", ")
    }
}
