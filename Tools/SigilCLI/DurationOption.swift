import ArgumentParser

/// Durations as the CLI's options take them (`--ttl 1h`, `--since 24h`).
enum DurationOption {
    /// `90s`, `30m`, `1h`, `2d`, or plain seconds; at most `maximumDays`.
    static func seconds(_ text: String, maximumDays: Int = 30) throws -> Int {
        let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        let (number, unit) = text.last.flatMap { units[$0] }.map { (text.dropLast(), $0) } ?? (Substring(text), 1)
        guard let value = Int(number), value > 0, value <= maximumDays * 86_400 / unit else {
            throw ValidationError(
                "\(text) is not a duration like 90s, 30m, 1h or 2d of at most \(maximumDays) days")
        }
        return value * unit
    }
}
