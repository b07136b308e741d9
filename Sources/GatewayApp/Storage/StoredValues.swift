import ApprovalTokens
import Crypto
import Foundation

/// A stored value this build cannot read: a corrupted row, or a database written by a newer version.
/// Never replaced by a default: an unknown state read as `pending` could be decided. Every backend
/// reports such values with this error.
public struct UnreadableValue: Error, Sendable, CustomStringConvertible {
    public var table: String
    public var rowID: Int64?
    public var column: String
    public var value: String

    public init(table: String, rowID: Int64?, column: String, value: String) {
        self.table = table
        self.rowID = rowID
        self.column = column
        self.value = value
    }

    public var description: String {
        "unreadable value \"\(value)\" in \(table).\(column)\(rowID.map { " of row \($0)" } ?? "") (a corrupted row, or a database written by a newer version of approval-gateway)"
    }
}

/// The audit log's hash chain (AUDIT-3), the same on every backend so that a copied log still
/// verifies: each record stores the SHA-256 of the record before it and of its own content, so an
/// edited, removed or reordered record breaks the chain from that point on, even for someone who
/// can drop the append-only triggers.
///
/// A record's hash covers its fields as text (the instant as ``instantText(_:)`` writes it, `detail`
/// as its sorted JSON) and the previous hash, separated by a unit separator that no field contains.
public enum AuditChainHash {
    /// The hash before the first record.
    public static let genesis = String(repeating: "0", count: 64)

    public static func hash(at: String, action: String, actor: String?, requestID: Int64?, channel: String?, outcome: String, reason: String?, detail: String, previous: String) -> String {
        let fields = [at, action, actor ?? "", requestID.map(String.init) ?? "", channel ?? "", outcome, reason ?? "", detail, previous]
        let canonical = "audit-v1\u{1F}" + fields.joined(separator: "\u{1F}")
        return SHA256.hash(data: Data(canonical.utf8)).lowercaseHex
    }

    /// An instant as the chain hashes it: `yyyy-MM-dd HH:mm:ss.SSS` in UTC (the SQLite store's
    /// stored form).
    public static func instantText(_ date: Date) -> String {
        // Rounded to the nearest millisecond, as the SQLite store's formatter does.
        let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
        let seconds = (milliseconds / 1000).rounded(.down)
        let whole = Date(timeIntervalSince1970: seconds).formatted(Self.secondsStyle)
        return whole + "." + String(format: "%03d", Int(milliseconds - seconds * 1000))
    }

    private static let secondsStyle = Date.VerbatimFormatStyle(
        format: "\(year: .padded(4))-\(month: .twoDigits)-\(day: .twoDigits) \(hour: .twoDigits(clock: .twentyFourHour, hourCycle: .zeroBased)):\(minute: .twoDigits):\(second: .twoDigits)",
        timeZone: TimeZone(identifier: "UTC")!, calendar: Calendar(identifier: .gregorian)
    )

    /// The JSON text a record's detail is stored and hashed as (keys sorted).
    public static func detailText(_ detail: [String: String]) throws -> String {
        String(decoding: try JSONEncoder.sortedKeys.encode(detail), as: UTF8.self)
    }
}

extension JSONEncoder {
    /// An encoder with sorted keys and unescaped slashes: the stored JSON of details, contexts and evidence.
    public static var sortedKeys: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
