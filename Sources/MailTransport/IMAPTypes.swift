import Foundation

/// What `SELECT` (or `STATUS`) tells about a folder.
public struct MailboxStatus: Sendable, Hashable, Codable {
    /// The folder name.
    public var name: String
    /// UIDVALIDITY: UIDs are meaningful only together with this value (IMAP-1).
    public var uidValidity: UInt32
    /// The UID the next message will get, when the server said.
    public var uidNext: UInt32?
    /// How many messages the folder holds.
    public var messages: Int
    /// How many are `\Recent`, when the server said.
    public var recent: Int?
    /// Flags that can be stored permanently, when the server said (`\*` = any keyword).
    public var permanentFlags: [String]?
}

/// A message's UID, size and flags, fetched before its body (IMAP-4).
public struct MessageSummary: Sendable, Hashable, Codable {
    public var uid: UInt32
    /// `RFC822.SIZE`, in bytes.
    public var size: Int
    /// Flags such as `\Seen`, `\Flagged`, `\Deleted`.
    public var flags: [String]

    public init(uid: UInt32, size: Int, flags: [String]) {
        self.uid = uid
        self.size = size
        self.flags = flags
    }

    /// True when the `\Seen` flag is set.
    public var isSeen: Bool { flags.contains { $0.caseInsensitiveCompare("\\Seen") == .orderedSame } }
}

/// How ``IMAPMailbox/storeFlags(_:uids:)`` changes flags.
public enum FlagChange: Sendable, Hashable {
    /// `+FLAGS`: add these flags.
    case add([String])
    /// `-FLAGS`: remove these flags.
    case remove([String])
    /// `FLAGS`: replace all flags with these.
    case replace([String])
}

/// How ``IMAPMailbox/move(uids:to:createIfMissing:)`` moved the messages.
public enum MoveMethod: String, Sendable, Hashable, Codable {
    /// `UID MOVE` (RFC 6851): atomic.
    case move
    /// `UID COPY`, `\Deleted`, then `UID EXPUNGE` of just these UIDs (UIDPLUS, RFC 4315).
    case copyAndExpunge
    /// `UID COPY` and `\Deleted` only: the server has neither MOVE nor UIDPLUS, and a plain
    /// `EXPUNGE` could remove other messages, so the originals stay, flagged `\Deleted`.
    case copyAndFlagDeleted
}

/// A change in the selected folder reported by the server (during IDLE or after any command).
public enum MailboxEvent: Sendable, Hashable {
    /// `* n EXISTS`: the folder now holds n messages (new mail when n grows).
    case exists(Int)
    /// `* n RECENT`.
    case recent(Int)
    /// `* n EXPUNGE`: message with sequence number n was removed.
    case expunged(sequenceNumber: UInt32)
    /// `* n FETCH (FLAGS ...)`: a message's flags changed.
    case flagsChanged(sequenceNumber: UInt32, flags: [String])
}

/// A `UID SEARCH` criterion. Combine with ``and(_:)``; values are quoted safely.
public struct IMAPSearchCriteria: Sendable, Hashable, CustomStringConvertible {
    /// The criterion as sent after `UID SEARCH`.
    public let text: String

    /// Every message.
    public static let all = IMAPSearchCriteria(text: "ALL")
    /// Messages without `\Seen`.
    public static let unseen = IMAPSearchCriteria(text: "UNSEEN")
    /// Messages without `\Deleted`.
    public static let undeleted = IMAPSearchCriteria(text: "UNDELETED")

    /// Messages whose UID is `first` or higher. Servers always include the highest UID in
    /// `n:*`, even below n: ``IMAPMailbox/searchUIDs(_:)`` results should be filtered (IMAP-1);
    /// ``IMAPMailbox/uidsAfter(_:)`` does it.
    public static func uids(from first: UInt32) -> IMAPSearchCriteria {
        IMAPSearchCriteria(text: "UID \(max(1, first)):*")
    }

    /// Messages with a header `name` containing `value` (e.g. `Delivered-To`, `gateway+tok`).
    public static func header(_ name: String, contains value: String) throws(MailTransportError) -> IMAPSearchCriteria {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw MailTransportError(kind: .configuration, message: "IMAP search header name \(name.debugDescription) is not a header name", classification: .permanent)
        }
        return IMAPSearchCriteria(text: "HEADER \(name) \(try IMAPSyntax.quoted(value))")
    }

    /// Messages smaller than `bytes` (RFC822.SIZE).
    public static func smaller(than bytes: Int) -> IMAPSearchCriteria {
        IMAPSearchCriteria(text: "SMALLER \(max(0, bytes))")
    }

    /// Messages larger than `bytes`.
    public static func larger(than bytes: Int) -> IMAPSearchCriteria {
        IMAPSearchCriteria(text: "LARGER \(max(0, bytes))")
    }

    /// Both criteria.
    public func and(_ other: IMAPSearchCriteria) -> IMAPSearchCriteria {
        IMAPSearchCriteria(text: "\(text) \(other.text)")
    }

    public var description: String { text }
}

/// What ``IMAPMailbox/connect()`` and `check-inbox` report about the server.
public struct IMAPSessionInfo: Sendable, Hashable, Codable {
    /// Capabilities after login, upper-cased and sorted.
    public var capabilities: [String]
    /// `scheme://host:port`.
    public var server: String
    public var username: String
}
