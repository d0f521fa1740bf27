/// Parsers for the durations and sizes users write in `SET` and `WITH (...)`:
/// `'200ms'`, `'1s'`, `'2m'`, `'256MB'`. Each returns a message that names
/// what was wrong, so the caller only adds the place.
public enum Units {
    /// Milliseconds from `'250ms'`, `'1s'`, `'1.5s'`, `'2m'`, `'1h'`, `'1d'`.
    /// A bare number is refused: `'5'` is ambiguous, and Spark users write units.
    public static func parseDuration(_ text: String) -> Result<Int64, UnitError> {
        let (number, unit) = split(text)
        guard let value = Double(number), value.isFinite, !number.isEmpty else {
            return .failure(UnitError("bad duration '\(text)': expected a number and a unit, like '200ms', '1s', '5m'"))
        }
        let scale: Double
        switch unit.lowercased() {
        case "ms", "msec", "millis", "millisecond", "milliseconds": scale = 1
        case "s", "sec", "secs", "second", "seconds": scale = 1000
        case "m", "min", "mins", "minute", "minutes": scale = 60_000
        case "h", "hr", "hour", "hours": scale = 3_600_000
        case "d", "day", "days": scale = 86_400_000
        case "": return .failure(UnitError("bad duration '\(text)': missing unit (write '\(number)s' or '\(number)ms')"))
        default: return .failure(UnitError("bad duration '\(text)': unknown unit '\(unit)' (use ms, s, m, h or d)"))
        }
        let ms = value * scale
        guard ms >= 0 else { return .failure(UnitError("bad duration '\(text)': must not be negative")) }
        guard ms < 1e15 else { return .failure(UnitError("bad duration '\(text)': too large")) }
        guard ms == ms.rounded() else {
            return .failure(UnitError("bad duration '\(text)': must be a whole number of milliseconds"))
        }
        return .success(Int64(ms))
    }

    /// Bytes from `'4MB'`, `'256 MB'`, `'1GiB'`, `'512KB'`, `'100'`.
    /// Units are binary (1 MB = 1024 × 1024 bytes), as in Spark's `256m`.
    public static func parseByteSize(_ text: String) -> Result<Int64, UnitError> {
        let (number, unit) = split(text)
        guard let value = Double(number), value.isFinite, !number.isEmpty else {
            return .failure(UnitError("bad size '\(text)': expected a number and a unit, like '4MB' or '1GB'"))
        }
        guard value >= 0 else { return .failure(UnitError("bad size '\(text)': must not be negative")) }
        let scale: Double
        switch unit.lowercased() {
        case "", "b", "byte", "bytes": scale = 1
        case "k", "kb", "kib": scale = 1024
        case "m", "mb", "mib": scale = 1024 * 1024
        case "g", "gb", "gib": scale = 1024 * 1024 * 1024
        case "t", "tb", "tib": scale = 1024 * 1024 * 1024 * 1024
        default: return .failure(UnitError("bad size '\(text)': unknown unit '\(unit)' (use B, KB, MB, GB or TB)"))
        }
        let bytes = (value * scale).rounded()
        guard bytes < 9e18 else { return .failure(UnitError("bad size '\(text)': too large")) }
        return .success(Int64(bytes))
    }

    /// Formats milliseconds back the way a user would write them.
    public static func formatDuration(_ ms: Int64) -> String {
        if ms != 0 && ms % 86_400_000 == 0 { return "\(ms / 86_400_000)d" }
        if ms != 0 && ms % 3_600_000 == 0 { return "\(ms / 3_600_000)h" }
        if ms != 0 && ms % 60_000 == 0 { return "\(ms / 60_000)m" }
        if ms != 0 && ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }

    public static func formatBytes(_ bytes: Int64) -> String {
        let units: [(Int64, String)] = [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")]
        for (scale, name) in units where bytes >= scale {
            if bytes % scale == 0 { return "\(bytes / scale)\(name)" }
            let value = Double(bytes) / Double(scale)
            return "\((value * 10).rounded() / 10)\(name)"
        }
        return "\(bytes)B"
    }

    private static func split(_ text: String) -> (Substring, Substring) {
        let trimmed = text.drop(while: { $0 == " " })
        var end = trimmed.startIndex
        while end < trimmed.endIndex, trimmed[end].isNumber || trimmed[end] == "." || trimmed[end] == "-" {
            end = trimmed.index(after: end)
        }
        let number = trimmed[..<end]
        let unit = trimmed[end...].drop(while: { $0 == " " })
        var unitEnd = unit.endIndex
        while unitEnd > unit.startIndex, unit[unit.index(before: unitEnd)] == " " {
            unitEnd = unit.index(before: unitEnd)
        }
        return (number, unit[..<unitEnd])
    }
}

public struct UnitError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
