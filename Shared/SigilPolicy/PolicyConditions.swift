import Foundation
import SigilEvents
import SigilService

/// When a policy applies, beyond who and what: every condition given must hold.
package struct PolicyConditions: Codable, Sendable, Equatable, CustomStringConvertible {
    static let schema = SpecSchema.ObjectSchema(
        "When the policy applies; every condition given must hold.",
        [
            .init(
                "timeWindows", .array(of: .object(TimeWindow.schema), minItems: 1, maxItems: 16),
                "The moment of the request falls in one of these (local time of each window's time zone)."),
            .init(
                "sourceNetworks", .array(of: .string(maxLength: 49), minItems: 1, maxItems: 256),
                "The workload's address, as the edge's listener sees it, is in one of these CIDR blocks "
                    + "(`10.0.0.0/8`, `2001:db8::/32`, or one address); an edge that cannot tell fails the condition."),
            .init(
                "geography", .object(GeographyCondition.schema),
                "The workload's address is in one of these countries or subdivisions, by the policy service's "
                    + "geolocation database (SIGIL_POLICY_GEOIP_DATABASE); an unknown place fails the condition."),
            .init(
                "posture", .array(of: .object(PostureCondition.schema), minItems: 1, maxItems: 8),
                "What posture feeds last reported of the client's host or cluster (each must hold)."),
        ])

    package var timeWindows: [TimeWindow]?
    package var sourceNetworks: [String]?
    package var geography: GeographyCondition?
    package var posture: [PostureCondition]?

    package init(
        timeWindows: [TimeWindow]? = nil, sourceNetworks: [String]? = nil, geography: GeographyCondition? = nil,
        posture: [PostureCondition]? = nil
    ) {
        self.timeWindows = timeWindows
        self.sourceNetworks = sourceNetworks
        self.geography = geography
        self.posture = posture
    }

    func check(at path: String) throws {
        for (index, window) in (timeWindows ?? []).enumerated() {
            try window.check(at: "\(path).timeWindows[\(index)]")
        }
        for (index, text) in (sourceNetworks ?? []).enumerated() {
            let field = "\(path).sourceNetworks[\(index)]"
            do throws(NetworkBlock.Problem) {
                _ = try NetworkBlock(parsing: text)
            } catch {
                let why =
                    switch error {
                    case .notAnAddress: "is not an IP address or CIDR block"
                    case .badPrefixLength: "has a prefix length out of range (0-32 for IPv4, 0-128 for IPv6)"
                    case .hostBitsSet(let meant): "has host bits set (the block is \(meant))"
                    }
                throw ProblemDetails.invalidField(field, "\(field) \(why)")
            }
        }
        try geography?.check(at: "\(path).geography")
        for (index, condition) in (posture ?? []).enumerated() {
            try condition.check(at: "\(path).posture[\(index)]")
        }
    }

    /// Whether the policy examines the workload's address (the edge then keeps a credential per address).
    package var usesSource: Bool { sourceNetworks != nil || geography != nil }

    package var description: String {
        var parts: [String] = []
        if let timeWindows { parts.append(timeWindows.map(\.description).joined(separator: " or ")) }
        if let sourceNetworks { parts.append("from \(sourceNetworks.joined(separator: ", "))") }
        if let geography { parts.append("in \(geography)") }
        if let posture { parts.append("posture \(posture.map(\.description).joined(separator: "; "))") }
        return parts.joined(separator: " and ")
    }
}

/// Days of the week and a time of day, in one IANA time zone: `{days: [mon, tue, wed, thu, fri], from: "09:00",
/// to: "17:00", timeZone: Europe/Berlin}`. `from` is included, `to` is not; a window whose `to` is before its `from`
/// runs over midnight (`22:00`–`06:00`), its days naming the day the moment falls on. Local time follows the zone's
/// rules, daylight saving included.
package struct TimeWindow: Codable, Sendable, Equatable, CustomStringConvertible {
    package enum Weekday: String, Codable, Sendable, CaseIterable {
        case sun, mon, tue, wed, thu, fri, sat

        /// `Calendar`'s weekday number (Sunday = 1).
        var number: Int { Self.allCases.firstIndex(of: self)! + 1 }
    }

    static let clock = (
        regex: "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$", meaning: "a time of day, HH:mm (00:00 to 24:00)"
    )

    static let schema = SpecSchema.ObjectSchema(
        "Days of the week and a time of day in one time zone.",
        [
            .init(
                "days", .array(of: .string(choices: Weekday.allCases.map(\.rawValue)), minItems: 1, maxItems: 7),
                default: .array(Weekday.allCases.map { .string($0.rawValue) }), "The days (default: every day)."),
            .init("from", .string(maxLength: 5, pattern: clock), required: true, "Start, included (HH:mm)."),
            .init("to", .string(maxLength: 5, pattern: clock), required: true, "End, not included (HH:mm)."),
            .init(
                "timeZone", .string(maxLength: 64), default: "UTC",
                "IANA time zone (Europe/Berlin, America/New_York, UTC)."),
        ])

    package var days: [Weekday]
    package var from: String
    package var to: String
    package var timeZone: String

    package init(days: [Weekday] = Weekday.allCases, from: String, to: String, timeZone: String = "UTC") {
        self.days = days
        self.from = from
        self.to = to
        self.timeZone = timeZone
    }

    func check(at path: String) throws {
        guard TimeZone(identifier: timeZone) != nil else {
            throw ProblemDetails.invalidField("\(path).timeZone", "\(path).timeZone is not an IANA time zone")
        }
        guard from != to else {
            throw ProblemDetails.invalidField("\(path).to", "\(path).to equals from: the window would be empty")
        }
    }

    static func minutes(_ clock: String) -> Int {
        let parts = clock.split(separator: ":").compactMap { Int($0) }
        return parts.count == 2 ? parts[0] * 60 + parts[1] : 0
    }

    package var description: String {
        let named = Set(days)
        let dayText =
            named.count == 7
            ? "every day"
            : [Weekday.mon, .tue, .wed, .thu, .fri, .sat, .sun].filter(named.contains).map(\.rawValue)
                .joined(separator: ",")
        return "\(dayText) \(from)-\(to) \(timeZone)"
    }
}

/// A time window made ready to evaluate: its calendar (zone) built once, its bounds in minutes.
struct CompiledTimeWindow: Sendable {
    let window: TimeWindow
    let calendar: Calendar
    let days: Set<Int>
    let from: Int
    let to: Int

    init(_ window: TimeWindow) {
        self.window = window
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: window.timeZone) ?? TimeZone(identifier: "UTC")!
        self.calendar = calendar
        days = Set(window.days.map(\.number))
        from = TimeWindow.minutes(window.from)
        to = TimeWindow.minutes(window.to)
    }

    /// Whether `moment` falls in the window, the moment as the window's zone reads it, and (inside) the seconds
    /// until the window closes by the wall clock.
    func contains(_ moment: Date) -> (Bool, local: String, secondsLeft: Int) {
        let parts = calendar.dateComponents([.weekday, .hour, .minute, .second], from: moment)
        let minute = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let weekday = parts.weekday ?? 1
        let inTime = from < to ? (minute >= from && minute < to) : (minute >= from || minute < to)
        let minutesLeft = from < to || minute < to ? to - minute : 24 * 60 - minute + to
        let secondsLeft = max(1, minutesLeft * 60 - (parts.second ?? 0))
        func twoDigits(_ value: Int) -> String { value < 10 ? "0\(value)" : String(value) }
        let day = TimeWindow.Weekday.allCases[max(0, min(6, weekday - 1))].rawValue
        let local = "\(day) \(twoDigits(minute / 60)):\(twoDigits(minute % 60)) \(window.timeZone)"
        return (days.contains(weekday) && inTime, local, secondsLeft)
    }
}
