import Foundation

/// Parses and formats the compact durations used in configuration and on the command line:
/// `90s`, `30m`, `4h`, `7d`, and combinations such as `1h30m`.
public enum DurationText {
    /// Parses a duration into seconds, or returns `nil` when the text is not a positive duration.
    public static func seconds(from text: String) -> Int? {
        let text = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !text.isEmpty else { return nil }
        var total = 0
        var number: Int?
        var lastUnitRank = Int.max
        for character in text {
            if let digit = character.wholeNumberValue, character.isASCII {
                let (product, overflowA) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (sum, overflowB) = product.addingReportingOverflow(digit)
                guard !overflowA, !overflowB else { return nil }
                number = sum
                continue
            }
            guard let value = number else { return nil }
            let (unit, rank): (Int, Int)
            switch character {
            case "d": (unit, rank) = (86_400, 4)
            case "h": (unit, rank) = (3_600, 3)
            case "m": (unit, rank) = (60, 2)
            case "s": (unit, rank) = (1, 1)
            default: return nil
            }
            // Units must appear largest first and at most once: `1h30m`, not `30m1h` or `1h1h`.
            guard rank < lastUnitRank else { return nil }
            lastUnitRank = rank
            let (part, overflowA) = value.multipliedReportingOverflow(by: unit)
            let (sum, overflowB) = total.addingReportingOverflow(part)
            guard !overflowA, !overflowB else { return nil }
            total = sum
            number = nil
        }
        guard number == nil, total > 0 else { return nil }
        return total
    }

    /// Formats seconds in the same compact form, largest units first (`5400` → `1h30m`).
    public static func format(seconds: Int) -> String {
        guard seconds > 0 else { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, suffix) in [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")] where rest >= unit {
            text += "\(rest / unit)\(suffix)"
            rest %= unit
        }
        return text
    }

    /// Spells a duration out for people, largest units first (`5400` → `1 hour 30 minutes`); `-` for none.
    public static func spelledOut(seconds: Int?) -> String {
        guard let seconds, seconds > 0 else { return "-" }
        var rest = seconds
        var parts: [String] = []
        for (unit, name) in [(86_400, "day"), (3_600, "hour"), (60, "minute"), (1, "second")] where rest >= unit {
            let count = rest / unit
            parts.append("\(count) \(name)\(count == 1 ? "" : "s")")
            rest %= unit
        }
        return parts.joined(separator: " ")
    }
}
