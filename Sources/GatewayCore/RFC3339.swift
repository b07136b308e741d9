import Foundation

/// RFC 3339 timestamps in UTC with second precision (`2026-11-27T16:05:48Z`), as every
/// interface of the gateway prints them.
public enum RFC3339 {
    /// Formats `date` in UTC, e.g. `2026-11-27T16:05:48Z`.
    public static func string(from date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle())
    }

    /// Parses an RFC 3339 timestamp with or without fractional seconds.
    public static func date(from string: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle().parse(string) { return date }
        return try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(string)
    }
}
