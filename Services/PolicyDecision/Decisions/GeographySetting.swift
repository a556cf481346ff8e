import SigilGeography
import SigilPolicy
import SigilService

/// `SIGIL_POLICY_GEOIP_DATABASE`: the MaxMind-format database geography conditions read (GeoLite2-City.mmdb or
/// GeoIP2-City.mmdb as `geoipupdate` keeps them, or any `.mmdb` of that layout). Unset: geography conditions fail
/// (and explain why). Set to a file that does not open: the service does not start.
enum GeographySetting {
    static func locator(_ context: ServiceContext) throws -> (any GeoLocator)? {
        guard let path = context.configuration.source.string("SIGIL_POLICY_GEOIP_DATABASE") else { return nil }
        let logger = context.logger
        do {
            let database = try GeoDatabaseFile(path: path) { reloaded in
                switch reloaded {
                case .success: logger.info("geolocation database reloaded", metadata: ["path": "\(path)"])
                case .failure(let error):
                    logger.error(
                        "geolocation database not reloaded; the previous one stays", metadata: ["error": "\(error)"])
                }
            }
            logger.info("geolocation database open", metadata: ["path": "\(path)"])
            return database
        } catch {
            throw ConfigurationError(key: "SIGIL_POLICY_GEOIP_DATABASE", expected: "\(error)")
        }
    }
}
