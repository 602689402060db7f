import Foundation

/// Parses `--since`/`--until`: an ISO 8601 date or time (local time unless a zone is given),
/// `now`, or a span back from now (`90s`, `30m`, `2h`, `7d`).
public enum TimeArgument {
    public static func milliseconds(_ text: String, now: Date = Date(), timeZone: TimeZone = .current) -> UInt64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "now" { return UInt64(now.timeIntervalSince1970 * 1000) }
        if let unit = trimmed.last, let amount = Double(trimmed.dropLast()), amount >= 0 {
            let seconds: Double? = switch unit {
            case "s": amount
            case "m": amount * 60
            case "h": amount * 3600
            case "d": amount * 86400
            case "w": amount * 7 * 86400
            default: nil
            }
            if let seconds { return UInt64(max(0, now.timeIntervalSince1970 - seconds) * 1000) }
        }
        let withZone = ISO8601DateFormatter()
        withZone.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = withZone.date(from: trimmed) { return UInt64(date.timeIntervalSince1970 * 1000) }
        withZone.formatOptions = [.withInternetDateTime]
        if let date = withZone.date(from: trimmed) { return UInt64(date.timeIntervalSince1970 * 1000) }
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        for format in ["yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm", "yyyy-MM-dd"] {
            local.dateFormat = format
            if let date = local.date(from: trimmed) { return UInt64(date.timeIntervalSince1970 * 1000) }
        }
        return nil
    }

    /// Local time with milliseconds, for tables.
    public static func display(milliseconds: UInt64, timeZone: TimeZone = .current) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}
